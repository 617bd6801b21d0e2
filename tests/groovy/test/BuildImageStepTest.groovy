import harness.Harness
import harness.Support
import org.junit.Test

/** mlBuildImage: its contract through the runner, registry credentials, digest outputs, a taken tag. */
class BuildImageStepTest {

    @Test
    void returnsTheDigestReferenceAndPassesOnlyCliParams() {
        Map outputs = [image: '127.0.0.1:5000/churn:3', digest: 'sha256:' + 'a' * 64,
                       reference: '127.0.0.1:5000/churn@sha256:' + 'a' * 64, sizeBytes: 1]
        Harness h = Support.harness([:], 0, [summary: 'pushed', outputs: outputs])
        Map out = (Map) h.step('mlBuildImage', [modelUri: 'models:/churn@candidate', registry: '127.0.0.1:5000',
                                                overwriteTag: false, timeoutMinutes: 20])
        assert out == outputs
        assert h.cliRuns[0].command == 'build'
        assert Support.paramsFiles(h) == [[modelUri: 'models:/churn@candidate', registry: '127.0.0.1:5000',
                                           overwriteTag: false]]
    }

    @Test
    void registryCredentialsAreBoundToTheCatalogNames() {
        Harness h = Support.harness()
        h.credential('registry', [type: 'usernamePassword', username: 'ci-bot', password: 'reg-pw-9'])
        h.step('mlBuildImage', [registryCredentialsId: 'registry'])
        Map env = (Map) h.cliRuns[0].env
        assert env.MLCI_REGISTRY_USERNAME == 'ci-bot'
        assert env.MLCI_REGISTRY_PASSWORD == 'reg-pw-9'
        assert !Support.paramsFiles(h)[0].containsKey('registryCredentialsId')
    }

    @Test
    void aTakenTagFailsTheBuildWithTheCliSummary() {
        String summary = '127.0.0.1:5000/churn:3 already exists with digest sha256:b; a model version\'s tag is never moved'
        Harness h = Support.harness([:], 1, [summary: summary])
        String message = Support.failure { h.step('mlBuildImage') }
        assert message.startsWith("[mlBuildImage] ${summary}")
    }

    @Test
    void unknownParamsAreRejectedWithAHint() {
        Harness h = Support.harness()
        String message = Support.failure { h.step('mlBuildImage', [registy: 'x']) }
        assert message.contains("registy")
        assert message.contains("registry")
        assert h.cliRuns.isEmpty()
    }

    @Test
    void helpTextIsGeneratedFromTheContract() {
        String help = new File('vars/mlBuildImage.txt').text
        assert help.contains('registryCredentialsId')
        assert help.contains('overwriteTag')
    }
}
