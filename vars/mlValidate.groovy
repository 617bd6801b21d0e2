// Gate the candidate against the champion: thresholds, slices, size and latency budgets, with reports.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlValidate.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlValidate', args)
}
