// Swap champion and previous-champion back in one call.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlRollbackModel.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlRollbackModel', args)
}
