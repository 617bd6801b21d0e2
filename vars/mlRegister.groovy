// Register the validated candidate as a model version with alias challenger and lineage tags.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlRegister.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlRegister', args)
}
