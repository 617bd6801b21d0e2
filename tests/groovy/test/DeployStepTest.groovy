import harness.Harness
import harness.Support
import org.junit.Test

/** mlDeploy, mlSmokeTest, mlRollback: contracts through the runner, the per-target lock, SSH credentials. */
class DeployStepTest {

    @Test
    void deployRunsInsideTheTargetsLock() {
        Map outputs = [target: 'production', strategy: 'blue-green', hosts: [app1: 'changed']]
        Harness h = Support.harness([:], 0, [summary: 'deployed', outputs: outputs])
        Map out = (Map) h.step('mlDeploy', [target: 'production', strategy: 'blue-green'])
        assert out == outputs
        assert h.calls('lock').collect { ((Map) it.args[0]).resource } == ['mlci-deploy-production']
        assert h.cliRuns[0].command == 'deploy'
        assert cliShell(h).blocks.contains('lock')
        assert Support.paramsFiles(h) == [[target: 'production', strategy: 'blue-green']]
    }

    @Test
    void withoutLockableResourcesOneWarningAndTheStepStillRuns() {
        Harness h = Support.harness([:], 0, [summary: 'deployed'])
        h.uninstall('lock')
        h.step('mlDeploy', [target: 'staging'])
        assert h.cliRuns.size() == 1
        assert !cliShell(h).blocks.contains('lock')
        List warnings = h.echoes.findAll { it.contains('Lockable Resources plugin not installed') }
        assert warnings == ["[mlDeploy] warning: Lockable Resources plugin not installed: running without lock 'mlci-deploy-staging'"]
    }

    @Test
    void aFailureInsideTheLockIsNotMistakenForAMissingPlugin() {
        Harness h = Support.harness([:], 1, [summary: 'deploy to production failed: gate failed: p99 900 ms'])
        String message = Support.failure { h.step('mlDeploy', [target: 'production']) }
        assert message.startsWith('[mlDeploy] deploy to production failed: gate failed: p99 900 ms')
        assert h.cliRuns.size() == 1
    }

    @Test
    void rollbackTakesTheSameLockAndSmokeTakesNone() {
        Harness h = Support.harness()
        h.step('mlRollback', [target: 'production'])
        h.step('mlSmokeTest', [target: 'staging'])
        assert h.calls('lock').collect { ((Map) it.args[0]).resource } == ['mlci-deploy-production']
        assert h.cliRuns*.command == ['rollback', 'smoke']
    }

    @Test
    void withoutATargetTheLockIsTheGenericDeployLock() {
        Harness h = Support.harness()
        h.step('mlDeploy')
        assert h.calls('lock').collect { ((Map) it.args[0]).resource } == ['mlci-deploy']
    }

    @Test
    void sshCredentialsAreBoundToTheCatalogNames() {
        Harness h = Support.harness()
        h.credential('deploy-key', [type: 'sshUserPrivateKey', username: 'deploy', key: 'fake-key-material'])
        h.step('mlDeploy', [target: 'staging', sshCredentialsId: 'deploy-key'])
        Map env = (Map) h.cliRuns[0].env
        assert env.MLCI_SSH_USER == 'deploy'
        assert env.MLCI_SSH_KEY_FILE
        assert !Support.paramsFiles(h)[0].containsKey('sshCredentialsId')
    }

    @Test
    void kubeconfigIsBoundAsAFileForKubernetesTargets() {
        Harness h = Support.harness()
        h.credential('cluster', [type: 'file', content: 'apiVersion: v1'])
        h.step('mlDeploy', [target: 'cloud', kubeconfigCredentialsId: 'cluster'])
        h.step('mlRollback', [target: 'cloud', kubeconfigCredentialsId: 'cluster'])
        assert h.cliRuns.every { ((Map) it.env).KUBECONFIG }
        assert !Support.paramsFiles(h).any { it.containsKey('kubeconfigCredentialsId') }
    }

    @Test
    void rollbackCanMoveTheModelAliasesBackWithMlflowCredentials() {
        Harness h = Support.harness()
        h.credential('mlflow', [type: 'usernamePassword', username: 'u', password: 'p'])
        h.step('mlRollback', [target: 'production', model: true, mlflowCredentialsId: 'mlflow'])
        assert Support.paramsFiles(h) == [[target: 'production', model: true]]
        Map env = (Map) h.cliRuns[0].env
        assert env.MLFLOW_TRACKING_USERNAME == 'u' && env.MLFLOW_TRACKING_PASSWORD == 'p'
    }

    @Test
    void unknownParamsAreRejectedBeforeAnyLockOrRun() {
        Harness h = Support.harness()
        String message = Support.failure { h.step('mlDeploy', [targte: 'staging']) }
        assert message.contains('targte') && message.contains('target')
        assert h.cliRuns.isEmpty() && h.calls('lock').isEmpty()
    }

    /** The sh call that ran the CLI, with the blocks open around it. */
    private static Map cliShell(Harness h) {
        return h.shCalls.find { it.script == io.mlci.StepRunner.RUN_SCRIPT }
    }

    @Test
    void helpTextIsGeneratedFromTheContracts() {
        assert new File('vars/mlDeploy.txt').text.contains('sshCredentialsId')
        assert new File('vars/mlSmokeTest.txt').text.contains('url')
        assert new File('vars/mlRollback.txt').text.contains('target')
    }
}
