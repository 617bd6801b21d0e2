import harness.Harness
import harness.PipelineError
import org.junit.Before
import org.junit.Test

/**
 * The steps end to end with the real CLI: a real temp-dir workspace, `sh` running
 * `/bin/sh -xe -c SCRIPT` (dash, as Jenkins does), MLCI_CLI pointing at the real mlci
 * (tests/groovy/run.sh --e2e; MLCI_CLI defaults to python/.venv/bin/mlci).
 */
class GroovyE2eTest {

    File ws

    static String cli() {
        String path = System.getenv('MLCI_CLI') ?: new File(new Harness().root, 'python/.venv/bin/mlci').path
        return path
    }

    @Before
    void setUp() {
        // Not a skip: an e2e run without its CLI must not pass silently.
        assert new File(cli()).canExecute(): "no mlci CLI at ${cli()}: build python/.venv or set MLCI_CLI"
        ws = File.createTempDir('mlci-e2e-', '')
        new File(ws, '.mlci.yml').text = 'version: 1\nmodel:\n  name: demo\n  task: classification\ntest:\n  paths: [tests]\n'
        new File(ws, 'tests').mkdirs()
        new File(ws, 'tests/test_model.py').text = 'def test_model():\n    assert 1 + 1 == 2\n'
    }

    Harness harness() {
        Harness h = new Harness(real: true, workspace: ws)
        h.agentEnv.MLCI_CLI = cli()
        return h
    }

    static String failure(Harness h, Closure c) {
        try {
            c.call()
        } catch (PipelineError e) {
            return e.message
        }
        throw new AssertionError((Object) "expected an error; log:\n${h.log}".toString())
    }

    @Test
    void mlTestPasses() {
        Harness h = harness()
        Map out = (Map) h.step('mlTest')
        assert out.tests == 1: h.log
        assert out.failures == 0
        assert h.calls('junit').size() == 1
        String junit = h.calls('junit')[0].args[0].testResults
        assert new File(ws, junit).isFile()
        assert h.echoes.any { it.startsWith('[mlTest] mlci CLI: ' + cli() + ' from MLCI_CLI') }
    }

    @Test
    void mlTestWithArguments() {
        new File(ws, 'tests/test_more.py').text = 'import pytest\n\n@pytest.mark.slow\ndef test_slow():\n    pass\n'
        Harness h = harness()
        Map out = (Map) h.step('mlTest', [paths: ['tests/test_model.py'], verbose: true])
        assert out.tests == 1: h.log
    }

    @Test
    void mlTestFailingTestIsAnError() {
        new File(ws, 'tests/test_model.py').text = 'def test_model():\n    assert 1 + 1 == 3\n'
        Harness h = harness()
        String message = failure(h) { h.step('mlTest') }
        assert message.startsWith('[mlTest] '): message
        assert message.endsWith('(see docs/steps/mlTest.md)')
        assert message.contains('fail'): message
        assert h.calls('junit').size() == 1
    }

    @Test
    void mlTestFailingTestUnstable() {
        new File(ws, 'tests/test_model.py').text = 'def test_model():\n    assert 1 + 1 == 3\n'
        Harness h = harness()
        Map out = (Map) h.step('mlTest', [failOnError: false])
        assert h.currentBuild.result == 'UNSTABLE'
        assert out.failures == 1: h.log
    }

    @Test
    void badConfigIsExitTwo() {
        new File(ws, '.mlci.yml').text = 'version: 1\nmodel:\n  name: demo\n  task: classification\ntest:\n  paths: 42\n'
        Harness h = harness()
        String message = failure(h) { h.step('mlTest') }
        assert message == '[mlTest] invalid input or configuration: .mlci.yml:6 test.paths: expected a list, got 42 ' +
            '(see docs/steps/mlTest.md)'
    }

    @Test
    void mlPipelineRunsThePlan() {
        Harness h = harness()
        Map out = (Map) h.step('mlPipeline')
        assert h.stages.contains('test'): h.log
        assert out.results.test.tests == 1
        assert out.stages.find { it.name == 'test' }.step == 'mlTest'
    }

    @Test
    void mlPipelineStopsOnAFailingTest() {
        new File(ws, 'tests/test_model.py').text = 'def test_model():\n    assert False\n'
        Harness h = harness()
        String message = failure(h) { h.step('mlPipeline') }
        assert message.startsWith('[mlTest] '): message
        assert h.stages == ['test']
    }

    @Test
    void dockerModeRunsTheWrapper() {
        // No image can be pulled here: a stand-in docker client checks the argv the
        // wrapper builds, then runs the command after the image with the real CLI.
        File fake = new File(ws.path + '@tmp/fake-docker')
        fake.parentFile.mkdirs()
        fake.text = '''#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_DOCKER_LOG"
while [ $# -gt 0 ]; do
  case $1 in
    run|--rm) shift ;;
    --user|-e|-v|-w) shift 2 ;;
    *) break ;;
  esac
done
shift 2
exec "$FAKE_MLCI" "$@"
'''
        fake.setExecutable(true)
        File argv = new File(ws.path + '@tmp/docker-argv')
        Harness h = harness()
        h.agentEnv.remove('MLCI_CLI')
        h.agentEnv.putAll([MLCI_DOCKER: fake.path, FAKE_DOCKER_LOG: argv.path, FAKE_MLCI: cli()])
        h.credential('token', [type: 'string', secret: 'tok-e2e'])
        Map out = (Map) h.step('mlTest', [dockerImage: 'registry.local/mlci:0.1.0', mlflowTokenCredentialsId: 'token'])
        assert out.tests == 1: h.log
        List<String> args = argv.readLines()
        assert args[0..1] == ['run', '--rm']
        assert args.contains('MLFLOW_TRACKING_TOKEN') && !args.any { it.contains('tok-e2e') }
        int image = args.indexOf('registry.local/mlci:0.1.0')
        assert args[image + 1] == 'mlci' && args[image + 2] == 'test' && args[image + 3] == '--params'
        assert args.contains("${ws.path}:${ws.path}".toString())
    }

    @Test
    void hostileValuesReachTheCliIntact() {
        // A test path full of shell syntax: if anything interpolated it, the file would not be found.
        String name = 'tests/test_$(touch pwned)`id`.py'
        new File(ws, name).text = 'def test_odd():\n    pass\n'
        Harness h = harness()
        Map out = (Map) h.step('mlTest', [paths: [name]])
        assert out.tests == 1: h.log
        assert !new File(ws, 'pwned').exists()
    }
}
