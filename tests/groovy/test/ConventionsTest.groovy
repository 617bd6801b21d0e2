import groovy.json.JsonSlurperClassic
import harness.Conventions
import harness.Harness
import org.junit.Test

/** Conventions over all of vars/ and src/: checked on the source, for every step at once. */
class ConventionsTest {

    static final File ROOT = new Harness().root

    static Map<String, String> sources(String dir) {
        Map<String, String> out = [:]
        new File(ROOT, dir).eachFileRecurse { File f ->
            if (f.name.endsWith('.groovy')) {
                out[ROOT.toPath().relativize(f.toPath()).toString()] = f.getText('UTF-8')
            }
        }
        return out.sort()
    }

    static Set<String> varNames() {
        return new File(ROOT, 'vars').listFiles().findAll { it.name.endsWith('.groovy') }.collect { it.name - '.groovy' } as Set
    }

    @Test
    void thereAreSteps() {
        assert varNames().containsAll(['mlTest', 'mlPipeline'])
    }

    @Test
    void varsDeclareOnlyCallWithAMap() {
        List<String> bad = sources('vars').collectMany { String name, String text -> Conventions.varShape(name, text) }
        assert bad == []
    }

    @Test
    void varsAreFewLines() {
        sources('vars').each { String name, String text ->
            int code = text.readLines().count { it.trim() && !it.trim().startsWith('//') }
            assert code <= 5: "${name} has ${code} lines of code: logic belongs in src/io/mlci or the CLI"
        }
    }

    @Test
    void eachVarHasItsContractNamedLikeIt() {
        varNames().each { String step ->
            File contract = new File(ROOT, "resources/io/mlci/contracts/${step}.json")
            assert contract.isFile(): "vars/${step}.groovy has no contract resources/io/mlci/contracts/${step}.json"
            Map c = (Map) new JsonSlurperClassic().parseText(contract.text)
            assert c.step == step: "${contract} names step '${c.step}', the file is ${step}"
            assert c.command instanceof String
        }
    }

    @Test
    void eachVarRunsTheStepNamedLikeItsFile() {
        Set<String> steps = new File(ROOT, 'resources/io/mlci/contracts').list().findAll { it.endsWith('.json') && !it.startsWith('_') }
            .collect { it - '.json' } as Set
        sources('vars').each { String name, String text ->
            String step = new File(name).name - '.groovy'
            List<String> named = (text =~ /'(ml[A-Za-z0-9]+)'/).collect { it[1] }.findAll { steps.contains(it) }
            assert named.every { it == step }: "${name} runs ${named}, not ${step}"
        }
    }

    @Test
    void eachVarHasItsHelpText() {
        // vars/STEP.txt is generated from the contract by the Python side (Jenkins shows it
        // in the Global Variables Reference). Missing means that generation has not run.
        List<String> missing = varNames().findAll { !new File(ROOT, "vars/${it}.txt").isFile() }.sort()
        assert missing == []: "help text missing: ${missing.collect { "vars/${it}.txt" }} " +
            '(generated from resources/io/mlci/contracts by the Python side: run its help-text generator)'
    }

    @Test
    void contractsParseAndCredentialsAreInTheCatalog() {
        Map common = (Map) new JsonSlurperClassic().parseText(new File(ROOT, 'resources/io/mlci/contracts/_common.json').text)
        varNames().each { String step ->
            io.mlci.Contract c = io.mlci.Contract.parse(step,
                new File(ROOT, 'resources/io/mlci/contracts/_common.json').text,
                new File(ROOT, "resources/io/mlci/contracts/${step}.json").text)
            assert c.credentials.keySet().every { ((Map) common.credentials).containsKey(it) }
            assert c.credentials.keySet().every { it.endsWith('CredentialsId') }
        }
        ((Map) common.credentials).each { String name, Map entry ->
            assert entry.type in ['usernamePassword', 'string', 'file', 'sshUserPrivateKey']
            assert ((Map) entry.env).values().every { it ==~ /[A-Z][A-Z0-9_]*/ }
        }
    }

    @Test
    void noLazyJsonSlurper() {
        Map<String, String> all = sources('vars') + sources('src')
        List<String> bad = all.findAll { String name, String text -> text =~ /\bJsonSlurper\b/ }.keySet() as List
        assert bad == []: 'JsonSlurper returns LazyMap (not serialisable): use JsonSlurperClassic'
    }

    @Test
    void noInterpolatedShell() {
        Map<String, String> all = sources('vars') + sources('src')
        Map<String, Boolean> constants = Conventions.constantScripts(sources('src'))
        List<String> bad = all.collectMany { String name, String text -> Conventions.interpolatedSh(name, text, constants) }
        assert bad == []
        // And the check itself catches what it must.
        Map<String, Boolean> none = [:]
        assert Conventions.interpolatedSh('x', 'def f(v) { sh("echo ${v}") }', none).size() == 1
        assert Conventions.interpolatedSh('x', 'def f(v) { sh(script: "echo ${v}", returnStatus: true) }', none).size() == 1
        assert Conventions.interpolatedSh('x', 'def f() { sh "echo hi" }', none).size() == 1
        assert Conventions.interpolatedSh('x', 'def f(v) { sh(\'echo \' + v) }', none).size() == 1
        assert Conventions.interpolatedSh('x', 'def f(s) { s.sh(script: S) }', [S: false]).size() == 1
        assert Conventions.interpolatedSh('x', 'def f(s) { s.sh(script: S); sh \'echo "$X"\' }', [S: true]) == []
    }

    @Test
    void srcClassesAreSerializable() {
        sources('src').each { String name, String text ->
            Conventions.parse(name, text).classes.each { node ->
                Class c = Class.forName(node.name, true, getClass().classLoader)
                assert Serializable.isAssignableFrom(c): "${node.name} must implement Serializable (CPS persists it)"
            }
        }
    }

    @Test
    void srcNeverRefersToVars() {
        List<String> bad = sources('src').collectMany { String name, String text -> Conventions.varReferences(name, text, varNames()) }
        assert bad == []
        assert Conventions.varReferences('x', 'class A { def f(s) { s.mlTest() } }', ['mlTest'] as Set).size() == 1
    }

    @Test
    void noStepsInNonCps() {
        List<String> bad = sources('src').collectMany { String name, String text -> Conventions.stepsInNonCps(name, text) }
        assert bad == []
        String sample = '''class A { def script
            @com.cloudbees.groovy.cps.NonCPS
            def f() { script.echo('x') } }'''
        assert Conventions.stepsInNonCps('x', sample).size() == 1
    }

    @Test
    void noScriptThisArgument() {
        // Piper's `script: this` is exactly what `call(Map args = [:])` + unknown-key checks avoid.
        sources('vars').each { String name, String text -> assert !(text =~ /script\s*:\s*this/): name }
    }
}
