// Validate the model's data files against its Great Expectations suite.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlDataValidate.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlDataValidate', args)
}
