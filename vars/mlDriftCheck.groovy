// Compare current data with the training data's drift reference; push drift gauges.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlDriftCheck.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlDriftCheck', args)
}
