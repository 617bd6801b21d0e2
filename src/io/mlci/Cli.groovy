package io.mlci

import com.cloudbees.groovy.cps.NonCPS

/**
 * Finds the mlci CLI on the agent, pinned to the library's version. Order, each decision
 * logged in one line and none taken silently: dockerImage, MLCI_CLI, mlci on PATH with the
 * right version, a venv built by bootstrap.sh. The result (outside docker mode) is cached
 * in the build's environment per agent and version, so later steps skip the lookup.
 */
class Cli implements Serializable {

    private static final long serialVersionUID = 1L

    // Constant scripts: values reach them through withEnv only.
    static final String VERSION_SCRIPT = '"$MLCI_EXE" --version 2>&1 || echo "mlci-cli-failed $?"'
    static final String PATH_SCRIPT =
        'p=$(command -v mlci) || exit 0; echo "$p"; "$p" --version 2>&1 || echo "mlci-cli-failed $?"'
    static final String BOOTSTRAP_SCRIPT = 'sh "$MLCI_BOOTSTRAP" > "$MLCI_BOOTSTRAP_OUT"'
    static final String CHMOD_SCRIPT = 'chmod 0755 "$MLCI_EXE"'

    final Object script

    Cli(Object script) {
        this.script = script
    }

    /**
     * Returns [exe: path of the CLI or of the docker wrapper, docker: true|false].
     * Errors (through script.error) name the fix.
     */
    Map resolve(String step, String version, String dockerImage, String tmpDir) {
        String want = 'mlci ' + version
        if (dockerImage) {
            return docker(step, dockerImage, tmpDir)
        }
        String fromEnv = script.env.MLCI_CLI
        String key = [script.env.NODE_NAME, version, fromEnv ?: ''].join('|')
        String cached = script.env.MLCI_RESOLVED_EXE
        if (cached && script.env.MLCI_RESOLVED_KEY == key) {
            script.echo("[${step}] mlci CLI: ${cached} (resolved earlier in this build, ${want})")
            return [exe: cached, docker: false]
        }
        String exe = fromEnv ? fromMlciCli(step, fromEnv, want) : fromPath(step, want)
        exe = exe ?: bootstrap(step, version, tmpDir)
        script.env.MLCI_RESOLVED_KEY = key
        script.env.MLCI_RESOLVED_EXE = exe
        return [exe: exe, docker: false]
    }

    private Map docker(String step, String image, String tmpDir) {
        script.echo("[${step}] mlci CLI: docker image ${image} (dockerImage given; no local CLI used)")
        String wrapper = tmpDir + '/mlci/mlci-docker.sh'
        script.writeFile(file: wrapper, text: script.libraryResource('io/mlci/mlci-docker.sh'))
        script.withEnv(['MLCI_EXE=' + wrapper]) {
            script.sh(script: CHMOD_SCRIPT, label: 'mlci: docker wrapper')
        }
        return [exe: wrapper, docker: true]
    }

    private String fromMlciCli(String step, String path, String want) {
        String got = version(path)
        if (got != want) {
            script.error("[${step}] the mlci CLI in MLCI_CLI (${path}) ${describe(got)}, this library needs ${want}: " +
                "point MLCI_CLI at ${want}, unset MLCI_CLI, or pass cliVersion (see docs/steps/${step}.md)")
        }
        script.echo("[${step}] mlci CLI: ${path} from MLCI_CLI (${want})")
        return path
    }

    private String fromPath(String step, String want) {
        String out = script.sh(script: PATH_SCRIPT, returnStdout: true, label: 'mlci: look for mlci on PATH').trim()
        List<String> lines = lines(out)
        if (!lines) {
            script.echo("[${step}] no mlci on PATH: bootstrapping ${want} into a venv")
            return null
        }
        String path = lines[0]
        String got = lines.size() > 1 ? lines[-1] : ''
        if (got != want) {
            script.echo("[${step}] mlci on PATH (${path}) ${describe(got)}, not ${want}: " +
                "bootstrapping ${want} into a venv")
            return null
        }
        script.echo("[${step}] mlci CLI: ${path} on PATH (${want})")
        return path
    }

    private String bootstrap(String step, String version, String tmpDir) {
        String file = tmpDir + '/mlci/bootstrap.sh'
        String out = tmpDir + '/mlci/bootstrap.out'
        String err = tmpDir + '/mlci/bootstrap.error'
        script.writeFile(file: file, text: script.libraryResource('io/mlci/bootstrap.sh'))
        script.writeFile(file: err, text: '') // an earlier build's message is not this one's
        int status = 0
        script.withEnv(['MLCI_BOOTSTRAP=' + file, 'MLCI_BOOTSTRAP_OUT=' + out, 'MLCI_BOOTSTRAP_ERROR=' + err,
                        'MLCI_VERSION=' + version]) {
            status = script.sh(script: BOOTSTRAP_SCRIPT, returnStatus: true, label: 'mlci: bootstrap CLI')
        }
        List<String> printed = script.fileExists(out) ? lines(script.readFile(file: out)) : []
        String reason = script.fileExists(err) ? script.readFile(file: err).trim() : ''
        if (status != 0 && reason) {
            // bootstrap.sh's own message names the cause and the fix (pip's error, the interpreter).
            script.error("[${step}] could not set up the mlci ${version} CLI: ${reason} (see docs/steps/${step}.md)")
        }
        if (status != 0 || !printed) {
            script.error("[${step}] could not set up the mlci ${version} CLI: bootstrap.sh exited ${status} " +
                '(its message is in the log above). Install python3 (>= 3.11) and python3-venv on the agent, ' +
                'set MLCI_PYTHON to such an interpreter, set MLCI_CLI to an installed mlci, or pass dockerImage ' +
                "(see docs/steps/${step}.md)")
        }
        String exe = printed[-1]
        script.echo("[${step}] mlci CLI: ${exe} (venv bootstrapped, mlci ${version})")
        return exe
    }

    private String version(String exe) {
        String out = ''
        script.withEnv(['MLCI_EXE=' + exe]) {
            out = script.sh(script: VERSION_SCRIPT, returnStdout: true, label: 'mlci: check CLI version').trim()
        }
        List<String> printed = lines(out)
        return printed ? printed[-1] : ''
    }

    @NonCPS
    private static String describe(String got) {
        if (!got) {
            return 'printed no version'
        }
        if (got.startsWith('mlci-cli-failed')) {
            return "does not run (exit ${got.substring('mlci-cli-failed'.length()).trim()})"
        }
        return "reports '${got.take(80)}'"
    }

    @NonCPS
    private static List<String> lines(String text) {
        List<String> out = []
        for (String line : (text ?: '').split('\n')) {
            if (line.trim()) {
                out << line.trim()
            }
        }
        return out
    }

}
