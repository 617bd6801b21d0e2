import harness.Harness
import harness.Support
import io.mlci.StepRunner
import org.junit.Test

/** mlDataValidate and mlDriftCheck through the runner: commands, params, credentials, gates. */
class DataStepsTest {

    @Test
    void dataValidateRunsItsCommandAndPublishesJunit() {
        Harness h = Support.harness([:], 0, [summary: '62 expectations passed', outputs: [expectations: 62, failed: 0],
                                             reports: ['reports/data-validate/junit.xml'], junit: 'reports/data-validate/junit.xml'])
        Map out = (Map) h.step('mlDataValidate', [suite: 'expectations/suite.json', files: ['data/a.csv'], dataDocs: true])
        assert out == [expectations: 62, failed: 0]
        assert h.cliRuns[0].command == 'data-validate'
        assert h.shCalls.find { it.script == StepRunner.RUN_SCRIPT }.label == 'mlci data-validate'
        assert Support.paramsFiles(h) == [[suite: 'expectations/suite.json', files: ['data/a.csv'], dataDocs: true]]
        assert h.calls('junit')[0].args[0].testResults == 'reports/data-validate/junit.xml'
    }

    @Test
    void failedExpectationsFailTheBuildNamingThem() {
        Harness h = Support.harness([:], 1, [summary: '1 of 62 expectations failed: data/a.csv: expect_x(column=age)'])
        String message = Support.failure { h.step('mlDataValidate') }
        assert message.startsWith('[mlDataValidate] 1 of 62 expectations failed: data/a.csv: expect_x(column=age)')
    }

    @Test
    void datasetDriftWithFailOnErrorFalseIsUnstableAndReturnsOutputs() {
        Harness h = Support.harness([:], 1, [summary: 'dataset drift: 6 of 10 columns drifted',
                                             outputs: [datasetDrift: true, driftedColumns: ['tenure_months']]])
        Map out = (Map) h.step('mlDriftCheck', [current: 'data/production', failOnError: false])
        assert out == [datasetDrift: true, driftedColumns: ['tenure_months']]
        assert h.currentBuild.result == 'UNSTABLE'
        assert h.unstables[0].startsWith('[mlDriftCheck] dataset drift: 6 of 10 columns drifted')
        assert h.cliRuns[0].command == 'drift'
    }

    @Test
    void pushgatewayCredentialsAreBoundToFixedNamesNeverParams() {
        Harness h = Support.harness()
        h.credential('pgw', [type: 'usernamePassword', username: 'monitor', password: 'pgw-secret'])
        h.step('mlDriftCheck', [current: 'data/production', pushgatewayUrl: 'http://pgw:9091',
                                pushgatewayCredentialsId: 'pgw'])
        Map env = (Map) h.cliRuns[0].env
        assert env.PUSHGATEWAY_USERNAME == 'monitor' && env.PUSHGATEWAY_PASSWORD == 'pgw-secret'
        assert Support.paramsFiles(h) == [[current: 'data/production', pushgatewayUrl: 'http://pgw:9091']]
        assert !h.effectiveEnv().keySet().any { it.startsWith('PUSHGATEWAY_') }
    }
}
