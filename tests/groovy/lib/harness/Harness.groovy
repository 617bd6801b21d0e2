package harness

import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic
import org.codehaus.groovy.control.CompilerConfiguration

import java.util.regex.Pattern

/**
 * A small emulation of the Jenkins pipeline steps the library uses, in one of two modes:
 * mock (in-memory workspace, a strict `sh` mock answering only scripts a test expects)
 * or real (a temp dir workspace, `sh` runs `/bin/sh -xe -c SCRIPT` like Jenkins on Linux).
 * Loads every vars/*.groovy into one binding, as Jenkins does, with src/ on the classpath.
 */
class Harness {

    static final String BINDING_KEY = '__harness'
    static final String NODE = 'agent-1'

    final File root
    final boolean real
    final File realWorkspace
    final boolean fixtures

    /** Recorded calls. */
    final List<Map> steps = []
    final List<Map> shCalls = []
    final List<String> echoes = []
    final List<String> errors = []
    final List<String> unstables = []
    final List<Map> writes = []
    final List<String> stages = []
    final List<Map> inputs = []
    final List<Map> cliRuns = []
    /** The block steps (node, stage, timeout, withEnv, withCredentials...) open right now. */
    final List<String> activeBlocks = []

    /** Mock workspace: absolute path -> text. */
    final Map<String, String> files = [:]
    /** Fake credentials: id -> [type: ..., username/password/secret/content/key/passphrase]. */
    final Map<String, Map> credentials = [:]
    final Map<String, String> globalEnv = [:]
    final List<Map<String, String>> overrides = []
    final Map<String, String> agentEnv = [:]
    final Map<String, Object> currentBuild = [result: null, number: 1]
    Closure inputHandler = { Map args -> null }
    final List<Map> shRules = []
    final StringBuilder log = new StringBuilder()

    final Binding binding = new Binding()
    private final Map<String, Closure> builtins = [:]

    Harness(Map options = [:]) {
        root = new File((String) (options.root ?: System.getProperty('mlci.root') ?: '.')).canonicalFile
        real = options.real as boolean
        fixtures = options.fixtures as boolean
        realWorkspace = real ? (File) options.workspace : null
        if (real) {
            agentEnv.putAll(System.getenv())
        } else {
            agentEnv.putAll([PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/jenkins'])
        }
        binding.setVariable(BINDING_KEY, this)
        binding.setVariable('env', new EnvProxy(this))
        binding.setVariable('currentBuild', currentBuild)
        binding.setVariable('params', [:])
        registerSteps()
        loadVars()
    }

    // ---------------------------------------------------------------- loading vars

    private void loadVars() {
        CompilerConfiguration config = new CompilerConfiguration()
        config.scriptBaseClass = PipelineScript.name
        GroovyShell shell = new GroovyShell(getClass().classLoader, binding, config)
        List<File> dirs = [new File(root, 'vars')]
        if (fixtures) {
            dirs << new File(root, 'tests/groovy/fixtures/vars')
        }
        for (File dir : dirs) {
            for (File f : (dir.listFiles() ?: []).findAll { it.name.endsWith('.groovy') }.sort { it.name }) {
                Script s = shell.parse(f)
                s.binding = binding
                binding.setVariable(f.name - '.groovy', s)
            }
        }
    }

    /** Runs a Jenkinsfile snippet (a PipelineScript, so its closures are CPS-checked). */
    Object jenkinsfile(String text, Map variables = [:]) {
        CompilerConfiguration config = new CompilerConfiguration()
        config.scriptBaseClass = PipelineScript.name
        variables.each { k, v -> binding.setVariable((String) k, v) }
        Script s = new GroovyShell(getClass().classLoader, binding, config).parse(text, 'Jenkinsfile')
        return s.run()
    }

    /** Calls a var as a Jenkinsfile would, inside node { }. */
    Object step(String name, Map args = [:]) {
        Object out = null
        invoke('node', [{ out = invoke(name, [args] as Object[]) }] as Object[])
        return out
    }

    /** Calls a var outside node { }. */
    Object stepOutsideNode(String name, Map args = [:]) {
        return invoke(name, [args] as Object[])
    }

    Object invoke(String name, Object[] args) {
        if (binding.hasVariable(name) && binding.getVariable(name) instanceof PipelineScript) {
            steps << [name: name, args: args]
            Object value = ((PipelineScript) binding.getVariable(name)).invokeMethod('call', args)
            Serial.check(value, "the value returned by ${name}")
            return value
        }
        Closure impl = builtins[name]
        if (impl == null) {
            // What Jenkins throws for a step whose plugin is not installed.
            throw new NoSuchMethodError("No such DSL method '${name}' found among steps ${builtins.keySet().sort()}")
        }
        steps << [name: name, args: args]
        return impl.call(args)
    }

    // ---------------------------------------------------------------- env

    Map<String, String> effectiveEnv() {
        Map<String, String> env = [:]
        env.putAll(agentEnv)
        env.putAll(globalEnv)
        for (Map<String, String> layer : overrides) {
            env.putAll(layer)
        }
        return env.findAll { k, v -> v != null }
    }

    private Object withLayer(Map<String, String> layer, Closure body) {
        overrides << layer
        try {
            return body.call()
        } finally {
            overrides.remove(overrides.size() - 1)
        }
    }

    // ---------------------------------------------------------------- workspace

    String workspace() {
        return real ? realWorkspace.absolutePath : '/jenkins/workspace/demo'
    }

    String resolve(String path) {
        return path.startsWith('/') ? path : workspace() + '/' + path
    }

    void putFile(String path, String text) {
        String p = resolve(path)
        if (real) {
            File f = new File(p)
            f.parentFile.mkdirs()
            f.setText(text, 'UTF-8')
        } else {
            files[p] = text
        }
    }

    String getFile(String path) {
        String p = resolve(path)
        if (real) {
            File f = new File(p)
            if (!f.isFile()) {
                throw new PipelineError("java.nio.file.NoSuchFileException: ${p}")
            }
            return f.getText('UTF-8')
        }
        if (!files.containsKey(p)) {
            throw new PipelineError("java.nio.file.NoSuchFileException: ${p}")
        }
        return files[p]
    }

    boolean hasFile(String path) {
        String p = resolve(path)
        return real ? new File(p).exists() : files.containsKey(p)
    }

    String resource(String path) {
        if (fixtures && path == 'io/mlci/contracts/_common.json') {
            // Fixture credential types (file, ssh key) added to the real catalog.
            Map common = (Map) new JsonSlurperClassic().parseText(new File(root, 'resources/' + path).getText('UTF-8'))
            Map extra = (Map) new JsonSlurperClassic().parseText(new File(root, 'tests/groovy/resources/' + path).getText('UTF-8'))
            ((Map) common.credentials).putAll((Map) extra.credentials)
            return JsonOutput.toJson(common)
        }
        List<File> candidates = [new File(root, 'resources/' + path)]
        if (fixtures) {
            candidates << new File(root, 'tests/groovy/resources/' + path)
        }
        File found = candidates.find { it.isFile() }
        if (found == null) {
            throw new PipelineError("No such library resource ${path} could be found.")
        }
        return found.getText('UTF-8')
    }

    // ---------------------------------------------------------------- sh

    /** Registers an answer for sh scripts equal to (String) or matching (Pattern) `match`. */
    void onSh(Object match, Closure handler) {
        shRules.add(0, [match: match, handler: handler])
    }

    private Object sh(Object[] args) {
        Map a = args[0] instanceof Map ? (Map) args[0] : [script: args[0]]
        if (a.script instanceof GString) {
            throw new AssertionError((Object) "sh got a GString script (${a.script}): values must reach sh through withEnv".toString())
        }
        String script = (String) a.script
        Map call = [script: script, label: a.label, returnStdout: a.returnStdout as boolean,
                    returnStatus: a.returnStatus as boolean, env: effectiveEnv(), blocks: new ArrayList(activeBlocks)]
        shCalls << call
        int status
        String stdout
        if (real) {
            Map r = runReal(script, (Map<String, String>) call.env, call.returnStdout as boolean)
            status = (int) r.status
            stdout = (String) r.stdout
        } else {
            Map rule = shRules.find { Map r ->
                r.match instanceof Pattern ? ((Pattern) r.match).matcher(script).find() : r.match == script
            }
            if (rule == null) {
                throw new AssertionError((Object) "unexpected sh script (no test rule matches): ${script}".toString())
            }
            Object answer = ((Closure) rule.handler).call(call)
            if (answer instanceof Map) {
                status = (int) (((Map) answer).status ?: 0)
                stdout = (String) (((Map) answer).stdout ?: '')
            } else if (answer instanceof Integer) {
                status = (int) answer
                stdout = ''
            } else {
                status = 0
                stdout = answer == null ? '' : answer.toString()
            }
        }
        if (a.returnStatus) {
            return status
        }
        if (status != 0) {
            throw new PipelineError("script returned exit code ${status}")
        }
        return a.returnStdout ? stdout : null
    }

    private Map runReal(String script, Map<String, String> env, boolean captureStdout) {
        ProcessBuilder pb = new ProcessBuilder('/bin/sh', '-xe', '-c', script)
        pb.directory(realWorkspace)
        pb.environment().clear()
        pb.environment().putAll(env)
        Process p = pb.start()
        StringBuilder out = new StringBuilder()
        StringBuilder err = new StringBuilder()
        Thread to = Thread.start { out.append(p.inputStream.getText('UTF-8')) }
        Thread te = Thread.start { err.append(p.errorStream.getText('UTF-8')) }
        p.outputStream.close()
        int status = p.waitFor()
        to.join()
        te.join()
        log.append(err)
        if (!captureStdout) {
            log.append(out)
        }
        if (System.getenv('HARNESS_VERBOSE')) {
            System.err.print(err)
            if (!captureStdout) {
                System.err.print(out)
            }
        }
        return [status: status, stdout: captureStdout ? out.toString() : '']
    }

    // ---------------------------------------------------------------- the CLI mock

    /**
     * Answers the runner's CLI call: responder(command, params, call) returns
     * [exit: N, result: Map or null]; the result is written where MLCI_RESULT points.
     */
    void cli(Closure responder) {
        onSh(io.mlci.StepRunner.RUN_SCRIPT) { Map call ->
            Map env = (Map) call.env
            Map params = (Map) new JsonSlurperClassic().parseText(getFile((String) env.MLCI_PARAMS))
            cliRuns << [command: env.MLCI_COMMAND, params: params, env: env]
            Map answer = (Map) responder.call(env.MLCI_COMMAND, params, call)
            if (answer.result != null) {
                putFile((String) env.MLCI_RESULT, JsonOutput.toJson(answer.result))
            }
            return (int) answer.exit
        }
    }

    /** The common case: mlci 0.1.0 on PATH. */
    void cliOnPath(String version = '0.1.0', String path = '/usr/local/bin/mlci') {
        onSh(io.mlci.Cli.PATH_SCRIPT) { Map call -> "${path}\nmlci ${version}\n".toString() }
    }

    static Map result(String step, String command, int exit, Map extra = [:]) {
        Map r = [step: step, command: command, status: exit == 0 ? 'passed' : exit == 1 ? 'failed' : 'error',
                 exitCode: exit, summary: "${command} ${exit == 0 ? 'passed' : 'failed'}".toString(),
                 outputs: [:], reports: [], junit: null, service: null, durationSeconds: 0.1, mlciVersion: '0.1.0']
        r.putAll(extra)
        return r
    }

    // ---------------------------------------------------------------- credentials

    void credential(String id, Map values) {
        credentials[id] = values
    }

    /** Every fake secret value: what must never show up outside the CLI's environment. */
    List<String> secretValues() {
        List<String> out = []
        credentials.values().each { Map c ->
            ['password', 'secret', 'content', 'key', 'passphrase'].each { k -> if (c[k]) { out << (String) c[k] } }
        }
        return out
    }

    private Object withCredentials(List bindings, Closure body) {
        Map<String, String> layer = [:]
        List<String> tempFiles = []
        for (Object b : bindings) {
            Map binding = (Map) b
            Map c = credentials[(String) binding.credentialsId]
            if (c == null || c.type != binding.type) {
                throw new PipelineError("Could not find credentials entry with ID '${binding.credentialsId}'")
            }
            switch (binding.type) {
                case 'usernamePassword':
                    layer[(String) binding.usernameVariable] = (String) c.username
                    layer[(String) binding.passwordVariable] = (String) c.password
                    break
                case 'string':
                    layer[(String) binding.variable] = (String) c.secret
                    break
                case 'file':
                    String path = secretFile((String) c.content)
                    tempFiles << path
                    layer[(String) binding.variable] = path
                    break
                case 'sshUserPrivateKey':
                    String key = secretFile((String) c.key)
                    tempFiles << key
                    layer[(String) binding.keyFileVariable] = key
                    if (binding.usernameVariable) {
                        layer[(String) binding.usernameVariable] = (String) c.username
                    }
                    if (binding.passphraseVariable) {
                        layer[(String) binding.passphraseVariable] = (String) c.passphrase
                    }
                    break
                default:
                    throw new AssertionError((Object) "unknown binding ${binding.type}".toString())
            }
        }
        try {
            return withLayer(layer, body)
        } finally {
            tempFiles.each { String p -> real ? new File(p).delete() : files.remove(p) }
        }
    }

    /** Like Jenkins: secret files live under WORKSPACE@tmp/secretFiles, not via writeFile. */
    private String secretFile(String content) {
        String p = workspace() + '@tmp/secretFiles/' + UUID.randomUUID() + '/secret'
        if (real) {
            File f = new File(p)
            f.parentFile.mkdirs()
            f.text = content
        } else {
            files[p] = content
        }
        return p
    }

    // ---------------------------------------------------------------- steps

    private static Map named(Object[] args) {
        return args.length > 0 && args[0] instanceof Map ? (Map) args[0] : [:]
    }

    private static Closure body(Object[] args) {
        return (Closure) args.find { it instanceof Closure }
    }

    /** CPS persists a block's closure (its owner and captured locals) at every step inside it. */
    private static void checkClosure(Closure c, String what) {
        Object self = c.thisObject
        if (self instanceof PipelineScript || self?.getClass()?.name?.startsWith('io.mlci.')) {
            Serial.check(c, what)
        }
    }

    private Object block(String what, Object[] args, Closure around = null) {
        Closure b = body(args)
        checkClosure(b, "the body of ${what}")
        activeBlocks << what
        try {
            return around ? around.call(b) : b.call()
        } finally {
            activeBlocks.remove(activeBlocks.size() - 1)
        }
    }

    private void registerSteps() {
        builtins.sh = { Object[] a -> sh(a) }
        builtins.echo = { Object[] a -> echoes << a[0].toString(); null }
        builtins.error = { Object[] a ->
            String m = a[0] instanceof Map ? ((Map) a[0]).message.toString() : a[0].toString()
            errors << m
            throw new PipelineError(m)
        }
        builtins.unstable = { Object[] a ->
            String m = a[0] instanceof Map ? ((Map) a[0]).message.toString() : a[0].toString()
            unstables << m
            if (currentBuild.result != 'FAILURE') {
                currentBuild.result = 'UNSTABLE'
            }
            null
        }
        builtins.node = { Object[] a ->
            block('node', a) { Closure b -> withLayer([NODE_NAME: NODE, WORKSPACE: workspace()], b) }
        }
        builtins.stage = { Object[] a -> stages << a[0].toString(); block("stage ${a[0]}", a) }
        builtins.timeout = { Object[] a -> block("timeout ${named(a).time} ${named(a).unit}", a) }
        builtins.lock = { Object[] a -> block('lock', a) }
        builtins.withEnv = { Object[] a ->
            Map<String, String> layer = [:]
            for (Object kv : (List) a[0]) {
                String s = kv.toString()
                int eq = s.indexOf('=')
                layer[s.substring(0, eq)] = s.substring(eq + 1)
            }
            block('withEnv', a) { Closure b -> withLayer(layer, b) }
        }
        builtins.withCredentials = { Object[] a ->
            block('withCredentials', a) { Closure b -> withCredentials((List) a[0], b) }
        }
        builtins.usernamePassword = { Object[] a -> [type: 'usernamePassword'] + named(a) }
        builtins.string = { Object[] a -> [type: 'string'] + named(a) }
        builtins.file = { Object[] a -> [type: 'file'] + named(a) }
        builtins.sshUserPrivateKey = { Object[] a -> [type: 'sshUserPrivateKey'] + named(a) }
        builtins.pwd = { Object[] a -> named(a).tmp ? workspace() + '@tmp' : workspace() }
        builtins.writeFile = { Object[] a ->
            Map m = named(a)
            writes << [file: resolve((String) m.file), text: m.text.toString()]
            putFile((String) m.file, m.text.toString())
            null
        }
        builtins.readFile = { Object[] a -> getFile(a[0] instanceof Map ? (String) ((Map) a[0]).file : a[0].toString()) }
        builtins.fileExists = { Object[] a -> hasFile(a[0] instanceof Map ? (String) ((Map) a[0]).file : a[0].toString()) }
        builtins.libraryResource = { Object[] a -> resource(a[0] instanceof Map ? (String) ((Map) a[0]).resource : a[0].toString()) }
        builtins.input = { Object[] a -> inputs << named(a); inputHandler.call(named(a)) }
        builtins.junit = { Object[] a -> null }
        builtins.archiveArtifacts = { Object[] a -> null }
        builtins.publishHTML = { Object[] a -> null }
    }

    /** Removes a step, as when its plugin is not installed (calls then throw NoSuchMethodError). */
    void uninstall(String step) {
        builtins.remove(step)
    }

    List<Map> calls(String name) {
        return steps.findAll { it.name == name }
    }
}
