package io.mlci

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonException
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic

/**
 * The one generic runner behind every step (the idea of Piper's piperExecuteBin):
 * check the arguments against the step's contract, write them to a JSON file, bind the
 * credentials, run `mlci COMMAND --params FILE --result FILE` with a constant script,
 * publish the reports and turn the exit code into the build's result.
 */
class StepRunner implements Serializable {

    private static final long serialVersionUID = 1L

    /** The only script that runs the CLI. Values reach it through withEnv, never its text. */
    static final String RUN_SCRIPT = '"$MLCI_EXE" "$MLCI_COMMAND" --params "$MLCI_PARAMS" --result "$MLCI_RESULT"'

    static final int PASSED = 0
    static final int GATE_FAILED = 1
    static final int BAD_INPUT = 2
    static final int INFRASTRUCTURE = 3

    // Shapes checked before they reach an environment variable (pip spec, docker argument).
    static final String VERSION_PATTERN = /[0-9A-Za-z][0-9A-Za-z.+!-]*/
    static final String IMAGE_PATTERN = /[A-Za-z0-9][A-Za-z0-9._\/:@-]*/

    final Object script
    private final Map contracts = [:]

    StepRunner(Object script) {
        this.script = script
    }

    /** The step's contract, loaded once per runner. */
    Contract contract(String step) {
        if (!contracts.containsKey(step)) {
            contracts[step] = Contract.load(script, step)
        }
        return (Contract) contracts[step]
    }

    /** Runs one step; returns its outputs as a plain Map (or fails the build). */
    Map run(String step, Map args = [:]) {
        if (!script.env.NODE_NAME) {
            fail(step, 'must run inside node { } or an agent: it runs the mlci CLI in a workspace. ' +
                "Wrap the call: node { ${step}() }")
        }
        Contract contract = contract(step)
        Map checked = contract.check(args ?: [:])
        List problems = (List) checked.problems
        problems.addAll(settingProblems((Map) checked.groovy))
        if (problems) {
            fail(step, 'invalid parameters: ' + problems.join('; '))
        }
        Map settings = (Map) checked.groovy
        Map credentialIds = (Map) checked.credentials

        String tmpDir = script.pwd(tmp: true)
        // Unique per call: parallel branches and repeated steps never share files.
        String base = tmpDir + '/mlci/' + step + '-' + UUID.randomUUID().toString()
        String paramsFile = base + '.params.json'
        String resultFile = base + '.result.json'
        script.writeFile(file: paramsFile, text: JsonOutput.toJson(checked.cli), encoding: 'UTF-8')

        String version = settings.cliVersion ?: script.libraryResource('io/mlci/version.txt').trim()
        int status = -1
        String lockName = contract.lockParam ? lockResource(contract.lockParam, (Map) checked.cli) : null
        withOptionalLock(step, lockName) {
            script.timeout(time: settings.timeoutMinutes, unit: 'MINUTES') {
                Map cli = new Cli(script).resolve(step, version, (String) settings.dockerImage, tmpDir)
                List env = ['MLCI_EXE=' + cli.exe, 'MLCI_COMMAND=' + contract.command,
                            'MLCI_PARAMS=' + paramsFile, 'MLCI_RESULT=' + resultFile]
                if (cli.docker) {
                    env.addAll(['MLCI_DOCKER_IMAGE=' + settings.dockerImage, 'MLCI_TMP_DIR=' + tmpDir,
                                'MLCI_DOCKER_ENV=' + envNames(contract, credentialIds).join(' ')])
                }
                script.withEnv(env) {
                    withBoundCredentials(contract, credentialIds) {
                        status = script.sh(script: RUN_SCRIPT, returnStatus: true, label: 'mlci ' + contract.command)
                    }
                }
            }
        }

        Map result = [:]
        if (script.fileExists(resultFile)) {
            result = parseResult(script.readFile(file: resultFile, encoding: 'UTF-8'))
        }
        if (!result || status < PASSED || status > INFRASTRUCTURE) {
            fail(step, "the mlci CLI exited ${status} without a result file: see its output in the log above")
        }
        publish(step, result)
        return outcome(step, status, result, settings.failOnError != false)
    }

    private Map outcome(String step, int status, Map result, boolean failOnError) {
        String summary = result.summary ?: 'no summary'
        Map outputs = (Map) (result.outputs ?: [:])
        switch (status) {
            case PASSED:
                script.echo("[${step}] ${summary}")
                return outputs
            case GATE_FAILED:
                if (failOnError) {
                    fail(step, summary)
                }
                script.unstable("[${step}] ${summary} (failOnError: false, see docs/steps/${step}.md)")
                return outputs
            case BAD_INPUT:
                fail(step, 'invalid input or configuration: ' + summary)
                break
            default:
                String service = result.service
                fail(step, service ? "infrastructure error: ${service}: ${summary}" :
                    "the mlci CLI crashed: ${summary}")
        }
        return outputs
    }

    /** Archives reports, publishes JUnit and, when the plugin is there, HTML reports. */
    private void publish(String step, Map result) {
        List reports = (List) (result.reports ?: [])
        if (reports) {
            script.archiveArtifacts(artifacts: reports.join(','), allowEmptyArchive: true, fingerprint: false)
        }
        if (result.junit) {
            // Our exit code decides the build result, not the JUnit publisher.
            script.junit(testResults: result.junit, allowEmptyResults: true, skipMarkingBuildUnstable: true)
        }
        List html = htmlReports(reports)
        for (int i = 0; i < html.size(); i++) {
            Map report = (Map) html[i]
            try {
                script.publishHTML(target: [reportDir: report.dir, reportFiles: report.file,
                                            reportName: step + ': ' + report.file, keepAll: true,
                                            alwaysLinkToLastBuild: false, allowMissing: true])
            } catch (NoSuchMethodError ignored) {
                // Optional plugin: skipped with one line, the build goes on.
                script.echo("[${step}] warning: HTML Publisher plugin not installed: " +
                    "${html.size()} HTML report(s) archived only")
                break
            }
        }
    }

    /**
     * Runs body inside lock(resource) when the step's contract names a lock param (deploys: one
     * environment at a time). Lockable Resources is optional: without it, one warning line.
     */
    private void withOptionalLock(String step, String resource, Closure body) {
        if (resource == null) {
            body()
            return
        }
        boolean entered = false
        try {
            script.lock(resource: resource) {
                entered = true
                body()
            }
        } catch (NoSuchMethodError missing) {
            if (entered) {
                throw missing
            }
            script.echo("[${step}] warning: Lockable Resources plugin not installed: " +
                "running without lock '${resource}'")
            body()
        }
    }

    /** `mlci-deploy-<value of the lock param>`; `mlci-deploy` when the param is not given. */
    @NonCPS
    static String lockResource(String param, Map cliParams) {
        Object value = cliParams[param]
        return value ? 'mlci-deploy-' + value : 'mlci-deploy'
    }

    /** Wraps body in withCredentials for the IDs given, bound to the contract's env names. */
    private void withBoundCredentials(Contract contract, Map ids, Closure body) {
        List bindings = []
        List names = new ArrayList(ids.keySet())
        for (int i = 0; i < names.size(); i++) {
            String name = names[i]
            Map entry = (Map) contract.credentials[name]
            Map env = (Map) entry.env
            Map binding = [credentialsId: ids[name]]
            binding.putAll(env)
            switch (entry.type) {
                case 'usernamePassword': bindings << script.usernamePassword(binding); break
                case 'string': bindings << script.string(binding); break
                case 'file': bindings << script.file(binding); break
                case 'sshUserPrivateKey': bindings << script.sshUserPrivateKey(binding); break
                default: fail(contract.step, "credential '${name}' has unknown type '${entry.type}' in _common.json")
            }
        }
        if (bindings) {
            script.withCredentials(bindings) {
                body()
            }
        } else {
            body()
        }
    }

    private void fail(String step, String message) {
        script.error("[${step}] ${message} (see docs/steps/${step}.md)")
    }

    /** The env names the bound credentials fill: the only variables a docker run passes on. */
    @NonCPS
    static List<String> envNames(Contract contract, Map ids) {
        List<String> out = []
        for (Object name : ids.keySet()) {
            Map env = (Map) ((Map) contract.credentials[name]).env
            for (Object variable : env.values()) {
                out << variable.toString()
            }
        }
        return out
    }

    @NonCPS
    static List<String> settingProblems(Map settings) {
        List<String> problems = []
        if (settings.cliVersion != null && !(settings.cliVersion ==~ VERSION_PATTERN)) {
            problems << "'cliVersion' must be a version such as 0.1.0"
        }
        if (settings.dockerImage != null && !(settings.dockerImage ==~ IMAGE_PATTERN)) {
            problems << "'dockerImage' must be an image reference such as registry/mlci@sha256:..."
        }
        if (settings.timeoutMinutes != null && settings.timeoutMinutes < 1) {
            problems << "'timeoutMinutes' must be at least 1"
        }
        return problems
    }

    /** The result file, or an empty map when it is not a JSON object (a crash mid-write). */
    @NonCPS
    static Map parseResult(String text) {
        try {
            Object parsed = new JsonSlurperClassic().parseText(text)
            return parsed instanceof Map ? (Map) parsed : [:]
        } catch (JsonException | IllegalArgumentException ignored) {
            return [:]
        }
    }

    @NonCPS
    static List<Map> htmlReports(List reports) {
        List<Map> out = []
        for (Object path : reports) {
            String p = path
            if (p.toLowerCase().endsWith('.html')) {
                int slash = p.lastIndexOf('/')
                out << [dir: slash > 0 ? p.substring(0, slash) : '.', file: p.substring(slash + 1)]
            }
        }
        return out
    }

}
