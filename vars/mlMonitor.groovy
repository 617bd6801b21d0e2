// Check a deployed model's live metrics and drift against SLOs; trigger retraining when a threshold is crossed.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlMonitor.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlMonitor', args)
}
