// Run the training command inside an MLflow run that records lineage, and log the drift reference.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlTrain.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlTrain', args)
}
