import harness.Harness
import harness.Support
import io.mlci.Cli
import io.mlci.StepRunner
import org.junit.Test

/** Getting the CLI: dockerImage, MLCI_CLI, PATH, bootstrap; pinned version; no silent fallback. */
class CliResolutionTest {

    private static Harness bare(Map options = [:]) {
        Harness h = new Harness(options)
        h.cli { String c, Map p, Map call -> [exit: 0, result: Harness.result(Support.stepOf(c), c, 0)] }
        return h
    }

    private static void bootstrapPrints(Harness h, String exe, int status = 0) {
        h.onSh(Cli.BOOTSTRAP_SCRIPT) { Map call ->
            if (exe) {
                h.putFile(call.env.MLCI_BOOTSTRAP_OUT, "${exe}\n".toString())
            }
            status
        }
    }

    private static List<String> decisions(Harness h) {
        return h.echoes.findAll { it.contains('mlci CLI') || it.contains('mlci on PATH') || it.contains('no mlci') }
    }

    @Test
    void dockerImageComesFirst() {
        Harness h = bare()
        h.agentEnv.MLCI_CLI = '/opt/mlci/bin/mlci' // ignored: dockerImage is explicit
        h.credential('token', [type: 'string', secret: 'tok'])
        h.onSh(Cli.CHMOD_SCRIPT) { Map call -> 0 }
        String image = 'registry.local/mlci@sha256:0123abcd'
        h.step('mlTest', [dockerImage: image, mlflowTokenCredentialsId: 'token'])
        String wrapper = h.workspace() + '@tmp/mlci/mlci-docker.sh'
        assert h.writes.find { it.file == wrapper }.text == new File(h.root, 'resources/io/mlci/mlci-docker.sh').text
        assert h.shCalls.collect { it.script } == [Cli.CHMOD_SCRIPT, StepRunner.RUN_SCRIPT]
        assert h.shCalls[0].env.MLCI_EXE == wrapper
        Map env = (Map) h.cliRuns[0].env
        assert env.MLCI_EXE == wrapper
        assert env.MLCI_DOCKER_IMAGE == image
        assert env.MLCI_DOCKER_ENV == 'MLFLOW_TRACKING_TOKEN'
        assert env.MLCI_TMP_DIR == h.workspace() + '@tmp'
        assert decisions(h) == ["[mlTest] mlci CLI: docker image ${image} (dockerImage given; no local CLI used)".toString()]
    }

    @Test
    void dockerWrapperPassesOnlyBoundNames() {
        Harness h = bare()
        h.onSh(Cli.CHMOD_SCRIPT) { Map call -> 0 }
        h.credential('mlflow', [type: 'usernamePassword', username: 'u', password: 'p'])
        h.step('mlTest', [dockerImage: 'img:1', mlflowCredentialsId: 'mlflow'])
        assert h.cliRuns[0].env.MLCI_DOCKER_ENV == 'MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD'
    }

    @Test
    void mlciCliEnvWithMatchingVersion() {
        Harness h = bare()
        h.agentEnv.MLCI_CLI = '/opt/mlci/bin/mlci'
        h.onSh(Cli.VERSION_SCRIPT) { Map call -> call.env.MLCI_EXE == '/opt/mlci/bin/mlci' ? 'mlci 0.1.0\n' : 'x' }
        h.step('mlTest')
        assert h.shCalls.collect { it.script } == [Cli.VERSION_SCRIPT, StepRunner.RUN_SCRIPT]
        assert h.cliRuns[0].env.MLCI_EXE == '/opt/mlci/bin/mlci'
        assert decisions(h) == ['[mlTest] mlci CLI: /opt/mlci/bin/mlci from MLCI_CLI (mlci 0.1.0)']
    }

    @Test
    void mlciCliEnvWithOtherVersionIsAnError() {
        Harness h = bare()
        h.agentEnv.MLCI_CLI = '/opt/mlci/bin/mlci'
        h.onSh(Cli.VERSION_SCRIPT) { Map call -> 'mlci 0.0.9\n' }
        String message = Support.failure { h.step('mlTest') }
        assert message == "[mlTest] the mlci CLI in MLCI_CLI (/opt/mlci/bin/mlci) reports 'mlci 0.0.9', this library " +
            'needs mlci 0.1.0: point MLCI_CLI at mlci 0.1.0, unset MLCI_CLI, or pass cliVersion (see docs/steps/mlTest.md)'
        assert h.cliRuns.isEmpty()
    }

    @Test
    void mlciCliEnvThatDoesNotRun() {
        Harness h = bare()
        h.agentEnv.MLCI_CLI = '/nope/mlci'
        h.onSh(Cli.VERSION_SCRIPT) { Map call -> 'sh: 1: /nope/mlci: not found\nmlci-cli-failed 127\n' }
        assert Support.failure { h.step('mlTest') }.contains('(/nope/mlci) does not run (exit 127)')
    }

    @Test
    void mlciCliEnvWithCliVersion() {
        Harness h = bare()
        h.agentEnv.MLCI_CLI = '/opt/mlci/bin/mlci'
        h.onSh(Cli.VERSION_SCRIPT) { Map call -> 'mlci 0.2.0' }
        h.step('mlTest', [cliVersion: '0.2.0'])
        assert h.cliRuns.size() == 1
    }

    @Test
    void pathWithMatchingVersion() {
        Harness h = bare()
        h.cliOnPath('0.1.0', '/usr/bin/mlci')
        h.step('mlTest')
        assert h.shCalls.collect { it.script } == [Cli.PATH_SCRIPT, StepRunner.RUN_SCRIPT]
        assert h.shCalls[0].returnStdout
        assert h.cliRuns[0].env.MLCI_EXE == '/usr/bin/mlci'
        assert decisions(h) == ['[mlTest] mlci CLI: /usr/bin/mlci on PATH (mlci 0.1.0)']
    }

    @Test
    void pathWithOtherVersionBootstraps() {
        Harness h = bare()
        h.cliOnPath('0.0.9', '/usr/bin/mlci')
        bootstrapPrints(h, '/home/jenkins/.cache/mlci/venv-0.1.0/bin/mlci')
        h.step('mlTest')
        assert h.shCalls.collect { it.script } == [Cli.PATH_SCRIPT, Cli.BOOTSTRAP_SCRIPT, StepRunner.RUN_SCRIPT]
        Map boot = h.shCalls[1]
        assert boot.returnStatus && boot.env.MLCI_VERSION == '0.1.0'
        assert h.getFile(boot.env.MLCI_BOOTSTRAP) == new File(h.root, 'resources/io/mlci/bootstrap.sh').text
        assert h.cliRuns[0].env.MLCI_EXE == '/home/jenkins/.cache/mlci/venv-0.1.0/bin/mlci'
        assert decisions(h) == [
            "[mlTest] mlci on PATH (/usr/bin/mlci) reports 'mlci 0.0.9', not mlci 0.1.0: bootstrapping mlci 0.1.0 into a venv",
            '[mlTest] mlci CLI: /home/jenkins/.cache/mlci/venv-0.1.0/bin/mlci (venv bootstrapped, mlci 0.1.0)']
    }

    @Test
    void notOnPathBootstraps() {
        Harness h = bare()
        h.onSh(Cli.PATH_SCRIPT) { Map call -> '' }
        bootstrapPrints(h, '/cache/venv/bin/mlci')
        h.step('mlTest')
        assert decisions(h) == ['[mlTest] no mlci on PATH: bootstrapping mlci 0.1.0 into a venv',
                                '[mlTest] mlci CLI: /cache/venv/bin/mlci (venv bootstrapped, mlci 0.1.0)']
    }

    @Test
    void cliVersionIsWhatGetsBootstrapped() {
        Harness h = bare()
        h.cliOnPath('0.1.0')
        bootstrapPrints(h, '/cache/venv-0.2.0/bin/mlci')
        h.step('mlTest', [cliVersion: '0.2.0'])
        assert h.shCalls[1].env.MLCI_VERSION == '0.2.0'
    }

    @Test
    void bootstrapFailureNamesTheFix() {
        Harness h = bare()
        h.onSh(Cli.PATH_SCRIPT) { Map call -> '' }
        bootstrapPrints(h, null, 1)
        String message = Support.failure { h.step('mlTest') }
        assert message.startsWith('[mlTest] could not set up the mlci 0.1.0 CLI: bootstrap.sh exited 1')
        ['python3 (>= 3.11)', 'python3-venv', 'MLCI_PYTHON', 'dockerImage', 'docs/steps/mlTest.md'].each {
            assert message.contains(it)
        }
        assert h.cliRuns.isEmpty()
    }

    @Test
    void bootstrapFailureShowsPipsError() {
        Harness h = bare()
        h.onSh(Cli.PATH_SCRIPT) { Map call -> '' }
        String pip = 'pip install mlci==0.1.0 failed (exit 1): ERROR: No matching distribution found for mlci==0.1.0. ' +
            'The agent needs the mlci wheel from a package index (MLCI_PIP_INDEX_URL, or pip\'s own configuration)'
        h.onSh(Cli.BOOTSTRAP_SCRIPT) { Map call ->
            h.putFile(call.env.MLCI_BOOTSTRAP_ERROR, pip + '\n')
            1
        }
        String message = Support.failure { h.step('mlTest') }
        assert message == "[mlTest] could not set up the mlci 0.1.0 CLI: ${pip} (see docs/steps/mlTest.md)".toString()
        assert !message.contains('python3-venv')
        assert h.cliRuns.isEmpty()
    }

    @Test
    void staleBootstrapErrorIsNotReused() {
        Harness h = bare()
        h.onSh(Cli.PATH_SCRIPT) { Map call -> '' }
        bootstrapPrints(h, '/cache/venv/bin/mlci')
        h.putFile(h.workspace() + '@tmp/mlci/bootstrap.error', 'pip install failed (an earlier build)\n')
        h.step('mlTest')
        assert h.getFile(h.workspace() + '@tmp/mlci/bootstrap.error') == ''
    }

    @Test
    void resolvedOncePerBuildAndAgent() {
        Harness h = bare()
        h.cliOnPath()
        h.step('mlTest')
        h.step('mlTest')
        assert h.shCalls.count { it.script == Cli.PATH_SCRIPT } == 1
        assert h.cliRuns.collect { it.env.MLCI_EXE } == ['/usr/local/bin/mlci', '/usr/local/bin/mlci']
        assert h.echoes.contains('[mlTest] mlci CLI: /usr/local/bin/mlci (resolved earlier in this build, mlci 0.1.0)')
    }

    @Test
    void cacheIsKeyedByVersion() {
        Harness h = bare()
        h.cliOnPath()
        bootstrapPrints(h, '/cache/venv-0.2.0/bin/mlci')
        h.step('mlTest')
        h.step('mlTest', [cliVersion: '0.2.0'])
        assert h.cliRuns.collect { it.env.MLCI_EXE } == ['/usr/local/bin/mlci', '/cache/venv-0.2.0/bin/mlci']
    }

    @Test
    void libraryVersionFileIsThePin() {
        assert new File(new Harness().root, 'resources/io/mlci/version.txt').text.trim() ==~ /\d+\.\d+\.\d+.*/
    }
}
