// Put the previous image back on every host of a deploy target.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlRollback.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlRollback', args)
}
