package harness

/** What `error` (hudson.AbortException) and failing steps throw in the harness. */
class PipelineError extends RuntimeException {
    PipelineError(String message) {
        super(message)
    }
}
