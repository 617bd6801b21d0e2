import groovy.json.JsonSlurperClassic
import harness.Harness
import harness.PipelineError
import harness.Serial
import harness.Support
import io.mlci.StepRunner
import org.junit.Test

/** The generic runner, through the mlTest step and the mlFixture test-only step. */
class RunnerTest {

    private static final String DOCS = '(see docs/steps/mlTest.md)'

    @Test
    void passedReturnsOutputsAsPlainMap() {
        Harness h = Support.harness([:], 0, [summary: '3 tests passed', outputs: [tests: 3, failures: 0]])
        Map out = (Map) h.step('mlTest', [paths: ['tests']])
        assert out == [tests: 3, failures: 0]
        assert out instanceof HashMap
        assert h.echoes.contains('[mlTest] 3 tests passed')
        assert h.currentBuild.result == null
        assert h.cliRuns.size() == 1 && h.cliRuns[0].command == 'test'
    }

    @Test
    void paramsFileHoldsOnlyCliKeys() {
        Harness h = Support.harness()
        h.credential('mlflow', [type: 'usernamePassword', username: 'u', password: 'p'])
        h.step('mlTest', [paths: ['tests', "t${1 + 1}"], pytestArgs: ['-m', 'not slow'], verbose: true,
                          configFile: 'model/.mlci.yml', testTimeoutMinutes: 5,
                          failOnError: false, timeoutMinutes: 7, cliVersion: '0.1.0', mlflowCredentialsId: 'mlflow'])
        List<Map> params = Support.paramsFiles(h)
        assert params == [[paths: ['tests', 't2'], pytestArgs: ['-m', 'not slow'], verbose: true,
                           configFile: 'model/.mlci.yml', testTimeoutMinutes: 5]]
        String file = h.writes.find { it.file.endsWith('.params.json') }.file
        assert file.startsWith(h.workspace() + '@tmp/mlci/mlTest-')
        assert h.cliRuns[0].env.MLCI_PARAMS == file
        assert h.cliRuns[0].env.MLCI_RESULT == file.replace('.params.json', '.result.json')
    }

    @Test
    void nullValuesAreLeftOut() {
        Harness h = Support.harness()
        h.step('mlTest', [paths: null, verbose: false])
        assert Support.paramsFiles(h) == [[verbose: false]]
    }

    @Test
    void eachCallGetsItsOwnFiles() {
        Harness h = Support.harness()
        h.step('mlTest')
        h.step('mlTest')
        List<String> files = h.cliRuns.collect { it.env.MLCI_PARAMS + it.env.MLCI_RESULT }
        assert files.size() == 2 && files[0] != files[1]
    }

    @Test
    void runsTheConstantScriptWithLabel() {
        Harness h = Support.harness()
        h.step('mlTest', [paths: ['tests']])
        Map run = h.shCalls.find { it.script == StepRunner.RUN_SCRIPT }
        assert run.returnStatus
        assert run.label == 'mlci test'
        assert run.env.MLCI_COMMAND == 'test'
        assert run.env.MLCI_EXE == '/usr/local/bin/mlci'
    }

    @Test
    void gateFailureFailsTheBuild() {
        Harness h = Support.harness([:], 1, [summary: '1 of 3 tests failed: test_model.py::test_accuracy'])
        String message = Support.failure { h.step('mlTest') }
        assert message == "[mlTest] 1 of 3 tests failed: test_model.py::test_accuracy ${DOCS}".toString()
        assert h.unstables.isEmpty()
    }

    @Test
    void gateFailureWithFailOnErrorFalseIsUnstable() {
        Harness h = Support.harness([:], 1, [summary: '1 of 3 tests failed', outputs: [tests: 3, failures: 1]])
        Map out = (Map) h.step('mlTest', [failOnError: false])
        assert out == [tests: 3, failures: 1]
        assert h.currentBuild.result == 'UNSTABLE'
        assert h.unstables.size() == 1 && h.unstables[0].startsWith('[mlTest] 1 of 3 tests failed')
        assert h.errors.isEmpty()
    }

    @Test
    void badInputIsAnErrorEvenWithFailOnErrorFalse() {
        Harness h = Support.harness([:], 2, [summary: ".mlci.yml:4 test.paths: expected a list"])
        String message = Support.failure { h.step('mlTest', [failOnError: false]) }
        assert message == "[mlTest] invalid input or configuration: .mlci.yml:4 test.paths: expected a list ${DOCS}".toString()
    }

    @Test
    void infrastructureErrorNamesTheService() {
        Harness h = Support.harness([:], 3, [summary: 'connection refused',
                                             service: 'MLflow tracking server at http://mlflow:5000'])
        String message = Support.failure { h.step('mlTest') }
        assert message == "[mlTest] infrastructure error: MLflow tracking server at http://mlflow:5000: connection refused ${DOCS}".toString()
    }

    @Test
    void crashWithoutServiceSaysSo() {
        Harness h = Support.harness([:], 3, [summary: 'KeyError: x'])
        assert Support.failure { h.step('mlTest') } == "[mlTest] the mlci CLI crashed: KeyError: x ${DOCS}".toString()
    }

    @Test
    void missingResultFileIsAnError() {
        [0, 1, 3, 127, 137].each { int exit ->
            Harness h = new Harness()
            h.cliOnPath()
            h.cli { String c, Map p, Map call -> [exit: exit, result: null] }
            String message = Support.failure { h.step('mlTest') }
            assert message == "[mlTest] the mlci CLI exited ${exit} without a result file: see its output in the log above ${DOCS}".toString()
        }
    }

    @Test
    void unknownExitCodeWithResultIsStillNotTrusted() {
        Harness h = Support.harness([:], 0)
        h.cli { String c, Map p, Map call -> [exit: 4, result: Harness.result('mlTest', 'test', 0)] }
        assert Support.failure { h.step('mlTest') }.contains('exited 4 without a result file')
    }

    @Test
    void garbledResultFileIsAnError() {
        Harness h = new Harness()
        h.cliOnPath()
        h.onSh(StepRunner.RUN_SCRIPT) { Map call -> h.putFile(call.env.MLCI_RESULT, '{"step": "mlTe'); 0 }
        assert Support.failure { h.step('mlTest') }.contains('exited 0 without a result file')
    }

    @Test
    void outsideNodeIsAnError() {
        Harness h = Support.harness()
        String message = Support.failure { h.stepOutsideNode('mlTest', [:]) }
        assert message.startsWith('[mlTest] must run inside node { } or an agent: ')
        assert message.endsWith(DOCS)
        assert h.shCalls.isEmpty()
    }

    @Test
    void unknownKeyGetsDidYouMean() {
        Harness h = Support.harness()
        String message = Support.failure { h.step('mlTest', [pahts: ['t'], failOnErorr: false]) }
        assert message.contains("unknown parameter 'pahts': did you mean 'paths'?")
        assert message.contains("unknown parameter 'failOnErorr': did you mean 'failOnError'?")
        assert message.startsWith('[mlTest] invalid parameters: ')
        assert h.shCalls.isEmpty() && h.writes.isEmpty()
    }

    @Test
    void unknownKeyFarFromAnyListsTheAcceptedOnes() {
        Harness h = Support.harness()
        String message = Support.failure { h.step('mlTest', [script: this]) }
        assert message.contains("unknown parameter 'script' (accepted: cliVersion, command, configFile, ")
        assert message.contains('mlflowCredentialsId')
    }

    @Test
    void missingRequiredKey() {
        Harness h = Support.harness(fixtures: true)
        String message = Support.failure { h.step('mlFixture', [count: 1]) }
        assert message == "[mlFixture] invalid parameters: missing required parameter 'modelName' (see docs/steps/mlFixture.md)"
    }

    @Test
    void wrongBasicTypes() {
        Harness h = Support.harness(fixtures: true)
        String message = Support.failure {
            h.step('mlFixture', [modelName: 1, count: '3', threshold: 'high', enabled: 'false', items: 'a',
                                 labels: ['a'], timeoutMinutes: 1.5, failOnError: 'no'])
        }
        ["'modelName' must be a string, not a number", "'count' must be an integer, not a string",
         "'threshold' must be a number, not a string", "'enabled' must be a boolean, not a string",
         "'items' must be a list, not a string", "'labels' must be a map, not a list",
         "'timeoutMinutes' must be an integer, not a number", "'failOnError' must be a boolean, not a string"].each {
            assert message.contains(it)
        }
    }

    @Test
    void acceptsEveryBasicType() {
        Harness h = Support.harness(fixtures: true)
        h.step('mlFixture', [modelName: "m${1}", count: 3L, threshold: 0.5, enabled: true,
                             items: ['a', 1, [b: true]] as Object[], labels: [team: 'ml', n: 2]])
        assert Support.paramsFiles(h) == [[modelName: 'm1', count: 3, threshold: 0.5, enabled: true,
                                            items: ['a', 1, [b: true]], labels: [team: 'ml', n: 2]]]
    }

    @Test
    void nonJsonValuesAreRejected() {
        Harness h = Support.harness()
        String message = Support.failure { h.step('mlTest', [paths: [new File('/tmp')]]) }
        assert message.contains("'paths' holds a File: only strings, numbers, booleans, lists and maps can be passed")
    }

    @Test
    void runnerSettingsAreChecked() {
        Harness h = Support.harness()
        String message = Support.failure { h.step('mlTest', [cliVersion: '1.0; rm -rf /', dockerImage: 'a b', timeoutMinutes: 0]) }
        assert message.contains("'cliVersion' must be a version")
        assert message.contains("'dockerImage' must be an image reference")
        assert message.contains("'timeoutMinutes' must be at least 1")
        assert h.shCalls.isEmpty()
    }

    @Test
    void credentialIdsMustBeIds() {
        Harness h = Support.harness()
        String secretLooking = 'hunter2 is my password'
        String message = Support.failure {
            h.step('mlTest', [mlflowTokenCredentialsId: secretLooking, mlflowCredentialsId: [id: 'x']])
        }
        assert message.contains("'mlflowTokenCredentialsId' must be the ID of a Jenkins credential")
        assert message.contains("'mlflowCredentialsId' must be the ID of a Jenkins credential")
        assert !message.contains('hunter2')
    }

    @Test
    void credentialsAreBoundToTheCatalogNames() {
        Harness h = Support.harness(fixtures: true)
        h.credential('mlflow', [type: 'usernamePassword', username: 'bob', password: 'pw-1'])
        h.credential('token', [type: 'string', secret: 'tok-2'])
        h.credential('kubeconfig', [type: 'file', content: 'file-3'])
        h.credential('deploy-key', [type: 'sshUserPrivateKey', username: 'deployer', key: 'key-4', passphrase: 'pass-5'])
        h.step('mlFixture', [modelName: 'm', mlflowCredentialsId: 'mlflow', mlflowTokenCredentialsId: 'token',
                             fixtureFileCredentialsId: 'kubeconfig', fixtureSshCredentialsId: 'deploy-key'])
        Map env = (Map) h.cliRuns[0].env
        assert env.MLFLOW_TRACKING_USERNAME == 'bob'
        assert env.MLFLOW_TRACKING_PASSWORD == 'pw-1'
        assert env.MLFLOW_TRACKING_TOKEN == 'tok-2'
        assert h.files[env.FIXTURE_FILE] == null // deleted after the block, like Jenkins
        assert env.FIXTURE_FILE.startsWith(h.workspace() + '@tmp/secretFiles/')
        assert env.FIXTURE_SSH_USER == 'deployer'
        assert env.FIXTURE_SSH_PASSPHRASE == 'pass-5'
        assert env.FIXTURE_SSH_KEY.startsWith(h.workspace() + '@tmp/secretFiles/')
        Map run = h.shCalls.find { it.script == StepRunner.RUN_SCRIPT }
        assert run.blocks.contains('withCredentials')
        // Scoped: nothing left in the environment after the step.
        assert !h.effectiveEnv().keySet().any { it.startsWith('MLFLOW_') || it.startsWith('FIXTURE_') }
        // IDs are not params: the CLI never sees them.
        assert Support.paramsFiles(h) == [[modelName: 'm']]
    }

    @Test
    void fileCredentialIsReadableDuringTheRun() {
        Harness h = new Harness(fixtures: true)
        h.cliOnPath()
        h.credential('kubeconfig', [type: 'file', content: 'apiVersion: v1'])
        String seen = null
        h.cli { String c, Map p, Map call ->
            seen = h.getFile(call.env.FIXTURE_FILE)
            [exit: 0, result: Harness.result('mlFixture', c, 0)]
        }
        h.step('mlFixture', [modelName: 'm', fixtureFileCredentialsId: 'kubeconfig'])
        assert seen == 'apiVersion: v1'
    }

    @Test
    void noCredentialsNoBinding() {
        Harness h = Support.harness()
        h.step('mlTest')
        assert h.calls('withCredentials').isEmpty()
    }

    @Test
    void unknownCredentialIdFailsLikeJenkins() {
        Harness h = Support.harness()
        String message = Support.failure { h.step('mlTest', [mlflowCredentialsId: 'nope']) }
        assert message.contains("Could not find credentials entry with ID 'nope'")
    }

    @Test
    void timeoutIsApplied() {
        Harness h = Support.harness()
        h.step('mlTest')
        h.step('mlTest', [timeoutMinutes: 5])
        assert h.calls('timeout').collect { it.args[0] } == [[time: 60, unit: 'MINUTES'], [time: 5, unit: 'MINUTES']]
        List<Map> runs = h.shCalls.findAll { it.script == StepRunner.RUN_SCRIPT }
        assert runs[0].blocks.contains('timeout 60 MINUTES')
        assert runs[1].blocks.contains('timeout 5 MINUTES')
    }

    @Test
    void reportsArePublished() {
        Harness h = Support.harness([:], 0, [reports: ['reports/test/junit.xml', 'reports/test/report.html'],
                                             junit: 'reports/test/junit.xml'])
        h.step('mlTest')
        assert h.calls('archiveArtifacts')[0].args[0] ==
            [artifacts: 'reports/test/junit.xml,reports/test/report.html', allowEmptyArchive: true, fingerprint: false]
        assert h.calls('junit')[0].args[0] ==
            [testResults: 'reports/test/junit.xml', allowEmptyResults: true, skipMarkingBuildUnstable: true]
        Map html = (Map) h.calls('publishHTML')[0].args[0].target
        assert html.reportDir == 'reports/test' && html.reportFiles == 'report.html' && html.allowMissing
    }

    @Test
    void reportsArePublishedWhenTheGateFails() {
        Harness h = Support.harness([:], 1, [reports: ['reports/test/junit.xml'], junit: 'reports/test/junit.xml'])
        Support.failure { h.step('mlTest') }
        assert h.calls('archiveArtifacts').size() == 1
        assert h.calls('junit').size() == 1
    }

    @Test
    void noReportsNoPublishing() {
        Harness h = Support.harness()
        h.step('mlTest')
        assert h.calls('archiveArtifacts').isEmpty() && h.calls('junit').isEmpty() && h.calls('publishHTML').isEmpty()
    }

    @Test
    void htmlPublisherAbsentGivesOneWarningAndPasses() {
        Harness h = Support.harness([:], 0, [reports: ['a.html', 'reports/b.html'], outputs: [tests: 1]])
        h.uninstall('publishHTML')
        Map out = (Map) h.step('mlTest')
        assert out == [tests: 1]
        List<String> warnings = h.echoes.findAll { it.contains('warning') }
        assert warnings == ['[mlTest] warning: HTML Publisher plugin not installed: 2 HTML report(s) archived only']
        assert h.currentBuild.result == null
        assert h.calls('archiveArtifacts')[0].args[0].artifacts == 'a.html,reports/b.html'
    }

    @Test
    void htmlPublisherPresentPublishesEach() {
        Harness h = Support.harness([:], 0, [reports: ['a.html', 'reports/b.html']])
        h.step('mlTest')
        assert h.calls('publishHTML').collect { it.args[0].target.reportDir + '/' + it.args[0].target.reportFiles } ==
            ['./a.html', 'reports/b.html']
        assert !h.echoes.any { it.contains('warning') }
    }

    @Test
    void runnerAndContractsSerialise() {
        Harness h = Support.harness()
        StepRunner runner = new StepRunner(h.binding.getVariable('mlTest'))
        h.step('mlTest')
        h.invoke('node', [{ runner.run('mlTest', [paths: ['t']]) }] as Object[])
        assert runner.contract('mlTest').command == 'test'
        Serial.check(runner, 'a StepRunner with cached contracts')
    }

    @Test
    void harnessCatchesNonSerialisableValues() {
        Harness h = new Harness()
        try {
            h.jenkinsfile('def m = new groovy.json.JsonSlurper().parseText(\'{"a": 1}\'); node { echo(m.a.toString()) }')
            assert false: 'a LazyMap kept across a step must fail'
        } catch (AssertionError e) {
            assert e.message.contains('not serialisable')
            assert e.message.contains('LazyMap')
        }
    }

    @Test
    void harnessChecksValuesReturnedBySteps() {
        Harness h = new Harness(fixtures: true)
        try {
            h.step('mlLazy')
            assert false: 'a LazyMap returned by a step must fail'
        } catch (AssertionError e) {
            assert e.message.contains('the value returned by mlLazy is not serialisable')
        }
    }

    @Test
    void resultIsParsedWithClassicSlurper() {
        Map r = StepRunner.parseResult('{"outputs": {"a": [1, {"b": 2}]}}')
        assert r.getClass() == HashMap && r.outputs.getClass() == HashMap
        Serial.check(r, 'a parsed result')
        assert StepRunner.parseResult('[1]') == [:]
        assert StepRunner.parseResult('') == [:]
        assert StepRunner.parseResult('{"a": ') == [:]
        assert new JsonSlurperClassic().parseText('{}') instanceof HashMap
    }

    @Test
    void errorIsAPipelineError() {
        Harness h = new Harness()
        try {
            h.invoke('error', ['boom'] as Object[])
        } catch (PipelineError e) {
            assert e.message == 'boom'
        }
    }
}
