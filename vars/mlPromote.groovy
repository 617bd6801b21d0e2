// Move alias champion to a validated version; the previous champion becomes previous-champion.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlPromote.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlPromote', args)
}
