import groovy.json.JsonSlurperClassic
import harness.Harness
import harness.Support
import io.mlci.Contract
import org.junit.Test

/**
 * Every step, every CLI parameter, given shell-hostile values: the sh scripts run are the
 * same constant scripts as with benign values, and the value shows up only in the params JSON.
 */
class HostileInputTest {

    static final List<String> HOSTILE = ["x'; touch pwned #", '$(id)', '`id`', 'a\nb', '"; rm -rf / #',
                                         '${HOME}', 'a b\tc', '\\', "it's", '--help', '-rf', 'ünï€ode']

    /** Real steps (every vars/*.groovy) plus the fixture step that has every type. */
    static List<String> steps() {
        List<String> out = new File(new Harness().root, 'vars').list().findAll { it.endsWith('.groovy') }.collect { it - '.groovy' }
        out << 'mlFixture'
        return out.sort()
    }

    static Contract contract(Harness h, String step) {
        return Contract.parse(step, h.resource('io/mlci/contracts/_common.json'), h.resource("io/mlci/contracts/${step}.json"))
    }

    /** A value of the param's type built around `s`; null for types that hold no text. */
    static Object valueOf(String type, String s) {
        switch (type) {
            case 'string': return s
            case 'list': return [s, 'ok']
            case 'map': return [(s): s, k: [s]]
            default: return null
        }
    }

    static Map benign(Contract c) {
        Map args = [:]
        c.params.each { String name, Map spec ->
            if (spec.scope != 'groovy') {
                Object v = valueOf((String) spec.type, 'benign')
                if (v == null) {
                    v = [integer: 1, number: 1.5, boolean: true][spec.type]
                }
                args[name] = v
            }
        }
        return args
    }

    /** Runs a step and returns what ran: [script, label] of every sh call, in order. */
    static Map run(String step, Map args) {
        Harness h = Support.harness(fixtures: true)
        h.step(step, args)
        return [h: h, sh: h.shCalls.collect { [it.script, it.label] }]
    }

    @Test
    void hostileValuesChangeNoShellScript() {
        int checked = 0
        for (String step : steps()) {
            Harness probe = new Harness(fixtures: true)
            Contract c = contract(probe, step)
            Map base = benign(c)
            List benignSh = run(step, base).sh
            assert benignSh.any { it[0] == io.mlci.StepRunner.RUN_SCRIPT }
            c.params.each { String name, Map spec ->
                if (spec.scope == 'groovy') {
                    return
                }
                for (String bad : HOSTILE) {
                    Object value = valueOf((String) spec.type, bad)
                    if (value == null) {
                        continue
                    }
                    Map args = new LinkedHashMap(base)
                    args[name] = value
                    Map r = run(step, args)
                    Harness h = (Harness) r.h
                    String what = "${step}.${name} = ${bad.inspect()}"
                    assert r.sh == benignSh: "sh scripts changed for ${what}"
                    // The value reaches the CLI intact, through the params file only.
                    assert h.cliRuns[0].params[name] == value: what
                    assert h.cliRuns.size() == 1
                    List<String> elsewhere = h.echoes + h.errors + h.unstables + h.shCalls.collect { "${it.script} ${it.label}" }
                    if (bad.length() > 3) {
                        assert !elsewhere.any { it.contains(bad) }: "${what} leaked outside the params file"
                    }
                    List<String> written = h.writes.findAll { it.text.contains(bad) || it.text.contains(jsonEscaped(bad)) }*.file
                    assert written.every { it.endsWith('.params.json') }: what
                    checked++
                }
            }
        }
        assert checked > 50
    }

    static String jsonEscaped(String s) {
        String json = groovy.json.JsonOutput.toJson(s)
        return json.substring(1, json.length() - 1)
    }

    @Test
    void hostileRunnerSettingsAreRejectedBeforeAnyShell() {
        for (String step : steps()) {
            Map base = benign(contract(new Harness(fixtures: true), step))
            for (String key : ['cliVersion', 'dockerImage']) {
                for (String bad : HOSTILE) {
                    Harness h = Support.harness(fixtures: true)
                    Map args = new LinkedHashMap(base)
                    args[key] = bad
                    String message = Support.failure { h.step(step, args) }
                    assert message.contains("'${key}' must be"): "${step}.${key} = ${bad.inspect()}"
                    assert h.shCalls.isEmpty()
                    assert !message.contains(bad)
                }
            }
        }
    }

    @Test
    void hostileCredentialIdsAreRejected() {
        for (String step : steps()) {
            Harness probe = new Harness(fixtures: true)
            Contract c = contract(probe, step)
            Map base = benign(c)
            c.credentials.keySet().each { String cred ->
                for (String bad : HOSTILE) {
                    Harness h = Support.harness(fixtures: true)
                    Map args = new LinkedHashMap(base)
                    args[cred] = bad
                    String message = Support.failure { h.step(step, args) }
                    if (bad ==~ Contract.CREDENTIAL_ID) {
                        // A well-formed ID (e.g. '--help') only ever reaches withCredentials.
                        assert message == "Could not find credentials entry with ID '${bad}'"
                        assert h.shCalls*.script.every { it == io.mlci.Cli.PATH_SCRIPT }
                    } else {
                        assert message.contains("'${cred}' must be the ID of a Jenkins credential")
                        assert h.shCalls.isEmpty()
                    }
                }
            }
        }
    }

    @Test
    void hostileKeysAreRejectedWithoutEcho() {
        Harness h = Support.harness()
        String message = Support.failure { h.step('mlTest', [('x\'; touch pwned #'): 1]) }
        assert message.contains('unknown parameter')
        assert h.shCalls.isEmpty()
    }

    @Test
    void paramsFileIsValidJsonForEveryHostileValue() {
        Harness h = Support.harness()
        h.step('mlTest', [paths: HOSTILE])
        String text = h.writes.find { it.file.endsWith('.params.json') }.text
        assert new JsonSlurperClassic().parseText(text) == [paths: HOSTILE]
    }
}
