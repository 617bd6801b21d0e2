import harness.Harness
import harness.PipelineError
import harness.Support
import io.mlci.Cli
import io.mlci.StepRunner
import org.junit.Test

/** Fake secrets bound: none may appear in sh scripts, labels, echo, errors, params or any written file. */
class SecretLeakTest {

    static final Map<String, Map> CREDENTIALS = [
        mlflow: [type: 'usernamePassword', username: 'svc-mlflow', password: 'S3cret-Password-1'],
        token : [type: 'string', secret: 'tok-S3cret-Token-2'],
        kube  : [type: 'file', content: 'S3cret-File-Content-3'],
        key   : [type: 'sshUserPrivateKey', username: 'deployer', key: '-----BEGIN S3cret-Key-4', passphrase: 'S3cret-Passphrase-5'],
    ]
    static final Map<String, String> IDS = [mlflowCredentialsId     : 'mlflow', mlflowTokenCredentialsId: 'token',
                                           fixtureFileCredentialsId: 'kube', fixtureSshCredentialsId: 'key']

    static Harness harness(int exit, Map extra = [:]) {
        Harness h = Support.harness([fixtures: true], exit, extra)
        CREDENTIALS.each { String id, Map c -> h.credential(id, c) }
        return h
    }

    static Map argsFor(String step) {
        Map args = step == 'mlFixture' ? [modelName: 'm'] : [:]
        IDS.each { String key, String id ->
            if (step == 'mlFixture' || key.startsWith('mlflow')) {
                args[key] = id
            }
        }
        return args
    }

    /** Everything the build would show or keep. */
    static List<String> visible(Harness h) {
        List<String> out = []
        out.addAll(h.echoes)
        out.addAll(h.errors)
        out.addAll(h.unstables)
        h.shCalls.each { out << it.script; out << String.valueOf(it.label) }
        h.writes.each { out << it.file; out << it.text }
        h.steps.each { out << String.valueOf(it.args) }
        out << h.log.toString()
        return out
    }

    static void assertNoSecret(Harness h, String what) {
        List<String> secrets = h.secretValues()
        assert secrets.size() == 5
        for (String s : visible(h)) {
            for (String secret : secrets) {
                assert !s.contains(secret): "${what}: secret ${secret} visible in: ${s.take(200)}"
            }
        }
    }

    @Test
    void noSecretInAnyOutcome() {
        for (String step : ['mlTest', 'mlFixture']) {
            [0, 1, 2, 3].each { int exit ->
                [true, false].each { boolean failOnError ->
                    Harness h = harness(exit, [service: exit == 3 ? 'MLflow tracking server at http://m:5000' : null])
                    Map args = argsFor(step)
                    args.failOnError = failOnError
                    try {
                        h.step(step, args)
                    } catch (PipelineError ignored) {
                        // Failing outcomes are part of the check.
                    }
                    Map env = (Map) h.cliRuns[0].env
                    // Positive control: the CLI did get them, through its environment.
                    if (step == 'mlFixture') {
                        assert env.MLFLOW_TRACKING_PASSWORD == 'S3cret-Password-1'
                        assert env.FIXTURE_SSH_PASSPHRASE == 'S3cret-Passphrase-5'
                    } else {
                        assert env.MLFLOW_TRACKING_TOKEN == 'tok-S3cret-Token-2'
                    }
                    assertNoSecret(h, "${step} exit ${exit} failOnError ${failOnError}")
                }
            }
        }
    }

    @Test
    void noSecretInDockerMode() {
        Harness h = harness(0)
        h.onSh(Cli.CHMOD_SCRIPT) { Map call -> 0 }
        Map args = argsFor('mlFixture')
        args.dockerImage = 'registry.local/mlci:0.1.0'
        h.step('mlFixture', args)
        Map env = (Map) h.cliRuns[0].env
        assert env.MLCI_DOCKER_ENV.split(' ') as Set == ['MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD',
            'MLFLOW_TRACKING_TOKEN', 'FIXTURE_FILE', 'FIXTURE_SSH_KEY', 'FIXTURE_SSH_USER', 'FIXTURE_SSH_PASSPHRASE'] as Set
        assertNoSecret(h, 'docker mode')
    }

    @Test
    void noSecretWhenTheCliPrintsNothingUseful() {
        Harness h = harness(0)
        h.cli { String c, Map p, Map call -> [exit: 137, result: null] }
        Support.failure { h.step('mlFixture', argsFor('mlFixture')) }
        assertNoSecret(h, 'killed CLI')
    }

    @Test
    void secretsAreOnlyInTheCliEnvironment() {
        Harness h = harness(0)
        h.step('mlFixture', argsFor('mlFixture'))
        List<Map> withSecrets = h.shCalls.findAll { Map call ->
            ((Map) call.env).values().any { v -> h.secretValues().contains(v) }
        }
        assert withSecrets*.script == [StepRunner.RUN_SCRIPT]
    }
}
