import harness.Harness
import harness.PipelineError
import harness.Support
import io.mlci.Cli
import org.junit.Test

/** mlPipeline: runs `mlci plan`, then each stage in order. */
class PipelineTest {

    static final List<Map> PLAN = [
        [name: 'test', step: 'mlTest', kind: 'run', params: [paths: ['tests']]],
        [name: 'approve-production', step: null, kind: 'approval',
         params: [message: 'Deploy demo to production?', ok: 'Deploy', submitter: 'release-managers']],
        [name: 'test-again', step: 'mlTest', kind: 'run', params: [pytestArgs: ['-m', 'slow']]],
    ]

    /** A CLI answering plan with `plan`, and each test run from `exits` in turn. */
    private static Harness harness(List<Map> plan, List<Integer> exits = [0, 0, 0]) {
        Harness h = new Harness()
        h.cliOnPath()
        int runs = 0
        h.cli { String command, Map params, Map call ->
            if (command == 'plan') {
                return [exit: 0, result: Harness.result('mlPipeline', 'plan', 0, [outputs: [stages: plan]])]
            }
            int exit = exits[runs]
            runs++
            [exit: exit, result: Harness.result('mlTest', command, exit,
                                                 [summary: "run ${runs} exit ${exit}".toString(), outputs: [tests: runs]])]
        }
        return h
    }

    @Test
    void runsStagesInOrder() {
        Harness h = harness(PLAN)
        Map out = (Map) h.step('mlPipeline')
        assert h.stages == ['test', 'approve-production', 'test-again']
        assert h.cliRuns.collect { it.command } == ['plan', 'test', 'test']
        assert h.cliRuns[1].params == [paths: ['tests']]
        assert h.cliRuns[2].params == [pytestArgs: ['-m', 'slow']]
        assert out.stages == PLAN
        assert out.results == [test: [tests: 1], 'test-again': [tests: 2]]
    }

    @Test
    void approvalIsAnInput() {
        Harness h = harness(PLAN)
        h.step('mlPipeline')
        assert h.inputs == [[message: 'Deploy demo to production?', ok: 'Deploy', submitter: 'release-managers']]
        // The input happens between the two test stages.
        assert h.steps.findAll { it.name in ['input', 'stage'] }
            .collect { it.name == 'stage' ? it.args[0] : it.name } ==
            ['test', 'approve-production', 'input', 'test-again']
    }

    @Test
    void approvalWithoutSubmitter() {
        Harness h = harness([[name: 'approve', step: null, kind: 'approval', params: [message: 'Go?', ok: 'Go']]])
        h.step('mlPipeline')
        assert h.inputs == [[message: 'Go?', ok: 'Go']]
    }

    @Test
    void abortedApprovalStopsThePipeline() {
        Harness h = harness(PLAN)
        h.inputHandler = { Map args -> throw new PipelineError('Aborted by alice') }
        try {
            h.step('mlPipeline')
            assert false
        } catch (PipelineError e) {
            assert e.message == 'Aborted by alice'
        }
        assert h.stages == ['test', 'approve-production']
        assert h.cliRuns.size() == 2
    }

    @Test
    void stopsAtTheFirstFailure() {
        Harness h = harness(PLAN, [1, 0])
        String message = Support.failure { h.step('mlPipeline') }
        assert message == '[mlTest] run 1 exit 1 (see docs/steps/mlTest.md)'
        assert h.stages == ['test']
        assert h.inputs.isEmpty()
    }

    @Test
    void failOnErrorFalseGoesOnUnstable() {
        Harness h = harness(PLAN, [1, 0])
        Map out = (Map) h.step('mlPipeline', [failOnError: false])
        assert h.currentBuild.result == 'UNSTABLE'
        assert out.results.keySet() == ['test', 'test-again'] as Set
    }

    @Test
    void passThroughKeysReachTheStages() {
        Harness h = harness(PLAN)
        h.credential('mlflow', [type: 'usernamePassword', username: 'u', password: 'p'])
        h.step('mlPipeline', [continuousDeployment: true, stages: ['test'], configFile: 'm/.mlci.yml', verbose: true,
                              timeoutMinutes: 9, mlflowCredentialsId: 'mlflow'])
        assert h.cliRuns[0].command == 'plan'
        assert h.cliRuns[0].params == [continuousDeployment: true, stages: ['test'], configFile: 'm/.mlci.yml', verbose: true]
        // Stages get the common keys and their credentials, not the pipeline's own keys.
        assert h.cliRuns[1].params == [paths: ['tests'], configFile: 'm/.mlci.yml', verbose: true]
        assert h.cliRuns[1].env.MLFLOW_TRACKING_USERNAME == 'u'
        assert h.calls('timeout').collect { it.args[0].time } == [9, 9, 9]
    }

    @Test
    void planParamsWinOverPassThrough() {
        Harness h = harness([[name: 'test', step: 'mlTest', kind: 'run', params: [configFile: 'from-plan.yml']]])
        h.step('mlPipeline', [configFile: 'given.yml'])
        assert h.cliRuns[1].params == [configFile: 'from-plan.yml']
    }

    @Test
    void cliIsResolvedOnceForThePipeline() {
        Harness h = harness(PLAN)
        h.step('mlPipeline')
        assert h.shCalls.count { it.script == Cli.PATH_SCRIPT } == 1
    }

    @Test
    void emptyPlanRunsNothing() {
        Harness h = harness([])
        assert h.step('mlPipeline') == [stages: [], results: [:]]
        assert h.stages.isEmpty()
    }

    @Test
    void badPlanIsAnError() {
        Harness h = harness([[name: 'x', step: 'mlTest', kind: 'dance', params: [:]]])
        assert Support.failure { h.step('mlPipeline') } ==
            "[mlPipeline] mlci plan returned a bad plan: stage 'x' has unknown kind 'dance' (see docs/steps/mlPipeline.md)"
    }

    @Test
    void stageParamsAreCheckedAgainstTheStageContract() {
        Harness h = harness([[name: 'test', step: 'mlTest', kind: 'run', params: [pahts: ['x']]]])
        assert Support.failure { h.step('mlPipeline') }.contains("[mlTest] invalid parameters: unknown parameter 'pahts'")
    }

    @Test
    void worksFromAJenkinsfile() {
        Harness h = harness(PLAN)
        Object out = h.jenkinsfile('''
            node {
                def r = mlPipeline(failOnError: true)
                echo "stages: ${r.results.size()}"
            }
        ''')
        assert h.echoes.contains('stages: 2')
    }
}
