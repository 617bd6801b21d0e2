import harness.Harness
import harness.Support
import io.mlci.StepRunner
import org.junit.Test

/** mlMonitor through the runner: command, params, the Jenkins and webhook credentials, outcomes. */
class MonitorStepTest {

    @Test
    void monitorRunsItsCommandAndReturnsTheRetrainDecision() {
        Harness h = Support.harness([:], 0, [summary: 'all checks passed', outputs: [breaches: [], retrainTriggered: false]])
        Map out = (Map) h.step('mlMonitor', [prometheusUrl: 'http://prometheus:9090', retrainJob: 'churn/retrain',
                                             cooldownHours: 24])
        assert out == [breaches: [], retrainTriggered: false]
        assert h.cliRuns[0].command == 'monitor'
        assert h.shCalls.find { it.script == StepRunner.RUN_SCRIPT }.label == 'mlci monitor'
        assert Support.paramsFiles(h) == [[prometheusUrl: 'http://prometheus:9090', retrainJob: 'churn/retrain',
                                           cooldownHours: 24]]
    }

    @Test
    void jenkinsTokenAndWebhookUrlAreBoundToFixedNamesNeverParams() {
        Harness h = Support.harness()
        h.credential('jenkins-bot', [type: 'usernamePassword', username: 'retrainer', password: 'api-token-123'])
        h.credential('hook', [type: 'string', secret: 'https://hooks.example.invalid/T000/secret'])
        h.step('mlMonitor', [retrainJob: 'churn/retrain', jenkinsCredentialsId: 'jenkins-bot', webhookCredentialsId: 'hook'])
        Map env = (Map) h.cliRuns[0].env
        assert env.JENKINS_USER == 'retrainer' && env.JENKINS_API_TOKEN == 'api-token-123'
        assert env.MLCI_WEBHOOK_URL == 'https://hooks.example.invalid/T000/secret'
        assert Support.paramsFiles(h) == [[retrainJob: 'churn/retrain']]
        assert !h.effectiveEnv().keySet().any { it in ['JENKINS_API_TOKEN', 'MLCI_WEBHOOK_URL'] }
    }

    @Test
    void aBreachFailsTheBuildUnlessFailOnErrorIsFalse() {
        Map result = [summary: 'drift: dataset drift: 6 of 10 columns drifted; retrain: triggered retrain job churn/retrain',
                      outputs: [breaches: ['drift'], retrainTriggered: true, queueItem: 42]]
        String message = Support.failure { Support.harness([:], 1, result).step('mlMonitor') }
        assert message.startsWith('[mlMonitor] drift: dataset drift: 6 of 10 columns drifted')

        Harness h = Support.harness([:], 1, result)
        Map out = (Map) h.step('mlMonitor', [failOnError: false])
        assert out.queueItem == 42 && h.currentBuild.result == 'UNSTABLE'
    }

    @Test
    void prometheusUnreachableIsAnInfrastructureFailure() {
        Harness h = Support.harness([:], 3, [summary: 'Prometheus (http://prometheus:9090): unreachable',
                                             service: 'Prometheus (http://prometheus:9090)'])
        String message = Support.failure { h.step('mlMonitor', [prometheusUrl: 'http://prometheus:9090']) }
        assert message.contains('Prometheus (http://prometheus:9090): unreachable')
    }
}
