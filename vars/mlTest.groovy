// Run the model repository's pytest suite and publish its JUnit XML.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlTest.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlTest', args)
}
