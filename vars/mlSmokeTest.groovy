// Send real holdout rows to a target's live endpoint and check status, schema, latency and predictions.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlSmokeTest.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlSmokeTest', args)
}
