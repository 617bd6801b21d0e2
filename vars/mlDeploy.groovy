// Deploy the model image to a target from `.mlci.yml` (rolling, blue-green or canary), gated, with automatic rollback.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlDeploy.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlDeploy', args)
}
