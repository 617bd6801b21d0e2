// Run every stage that .mlci.yml enables, in order, as Jenkins stages.
// Parameters, credentials and outputs: resources/io/mlci/contracts/mlPipeline.json.
def call(Map args = [:]) {
    return new io.mlci.Pipeline(this).run(args)
}
