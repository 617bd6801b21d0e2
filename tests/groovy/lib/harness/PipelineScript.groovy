package harness

/**
 * Base class of every vars/*.groovy script and Jenkinsfile in the harness. Unknown method
 * calls go to the harness (pipeline steps, or other vars by name) as Jenkins' DSL does.
 * Serialises as a token, as CPS does for the script object (src classes keep `script`).
 */
abstract class PipelineScript extends Script implements Serializable {

    def methodMissing(String name, Object args) {
        return ((Harness) binding.getVariable(Harness.BINDING_KEY)).invoke(name, (Object[]) args)
    }

    protected Object writeReplace() {
        return new ScriptToken(name: getClass().name)
    }

    static class ScriptToken implements Serializable {
        String name
    }
}
