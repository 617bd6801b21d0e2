// Build the model's serving image and push it to a registry; returns the digest.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlBuildImage.json.
def call(Map args = [:]) {
    return new io.mlci.StepRunner(this).run('mlBuildImage', args)
}
