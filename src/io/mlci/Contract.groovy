package io.mlci

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonSlurperClassic

/**
 * A step's contract (resources/io/mlci/contracts/STEP.json merged with _common.json):
 * which named arguments the step accepts, their scope and basic type, and which
 * credentials it binds. Python validates fully; this class only catches what must be
 * caught before the CLI runs: unknown or missing keys, wrong basic types, credential IDs.
 */
class Contract implements Serializable {

    private static final long serialVersionUID = 1L

    static final String COMMON = '_common'
    static final String SCOPE_GROOVY = 'groovy'
    // Jenkins' own rule for credential IDs (BaseStandardCredentials#doCheckId).
    static final String CREDENTIAL_ID = /[A-Za-z0-9_.-]+/

    final String step
    final String command
    /** name -> spec: the step's params and the common ones (those carry a scope). */
    final Map params
    /** name -> catalog entry (type, env) for the credentials this step accepts. */
    final Map credentials
    /** Names of the common params (any scope): what mlPipeline passes on to its stages. */
    final List<String> commonParams
    /** The param whose value names the lock the step runs in (`mlci-deploy-<value>`), or null. */
    String lockParam

    Contract(String step, String command, Map params, Map credentials, List<String> commonParams) {
        this.step = step
        this.command = command
        this.params = params
        this.credentials = credentials
        this.commonParams = commonParams
    }

    /** Loads a step's contract through libraryResource (a pipeline step, so not @NonCPS). */
    static Contract load(Object script, String step) {
        String common = script.libraryResource("io/mlci/contracts/${COMMON}.json")
        String own = script.libraryResource("io/mlci/contracts/${step}.json")
        return parse(step, common, own)
    }

    @NonCPS
    static Contract parse(String step, String commonText, String stepText) {
        // JsonSlurperClassic: plain HashMaps, which survive CPS serialisation (LazyMap does not).
        Map common = (Map) new JsonSlurperClassic().parseText(commonText)
        Map own = (Map) new JsonSlurperClassic().parseText(stepText)
        if (own.step != step) {
            throw new IllegalArgumentException("contract ${step}.json names step '${own.step}'")
        }
        Map params = [:]
        params.putAll((Map) common.params ?: [:])
        params.putAll((Map) own.params ?: [:])
        Map catalog = (Map) common.credentials ?: [:]
        Map credentials = [:]
        for (Object name : (List) own.credentials ?: []) {
            if (!catalog.containsKey(name)) {
                throw new IllegalArgumentException("contract ${step}.json lists credential '${name}', " +
                    'which _common.json does not define')
            }
            credentials[(String) name] = catalog[name]
        }
        List<String> commonNames = new ArrayList<String>(((Map) common.params ?: [:]).keySet())
        Contract contract = new Contract(step, (String) own.command, params, credentials, commonNames)
        contract.lockParam = (String) own.lock
        return contract
    }

    boolean isGroovyScope(String name) {
        Map spec = (Map) params[name]
        return spec != null && spec.scope == SCOPE_GROOVY
    }

    /**
     * Checks and splits the step's arguments. Returns a map of plain serialisable values:
     * cli (sent to the CLI), groovy (runner settings, defaults applied), credentials
     * (param name -> credential ID) and problems (messages naming keys, never values).
     */
    @NonCPS
    Map check(Map args) {
        List<String> problems = []
        Map cli = [:]
        Map groovy = [:]
        Map creds = [:]
        for (Object entry : (args ?: [:]).entrySet()) {
            String key = String.valueOf(((Map.Entry) entry).key)
            Object value = ((Map.Entry) entry).value
            if (value == null) {
                continue
            }
            if (credentials.containsKey(key)) {
                if (value instanceof CharSequence && value.toString() ==~ CREDENTIAL_ID) {
                    creds[key] = value.toString()
                } else {
                    // The value may be a secret pasted by mistake: never repeat it.
                    problems << "'${key}' must be the ID of a Jenkins credential (letters, digits, _ . -), " +
                        'not a secret or an expression'
                }
                continue
            }
            Map spec = (Map) params[key]
            if (spec == null) {
                problems << unknownKey(key)
                continue
            }
            String typeProblem = typeProblem(key, (String) spec.type, value)
            if (typeProblem) {
                problems << typeProblem
                continue
            }
            (spec.scope == SCOPE_GROOVY ? groovy : cli)[key] = plain(value)
        }
        for (Object name : params.keySet()) {
            Map spec = (Map) params[name]
            if (spec.required && !cli.containsKey(name) && !groovy.containsKey(name)) {
                problems << "missing required parameter '${name}'".toString()
            }
            if (spec.scope == SCOPE_GROOVY && !groovy.containsKey(name) && spec.containsKey('default')) {
                groovy[(String) name] = spec.default
            }
        }
        return [cli: cli, groovy: groovy, credentials: creds, problems: problems*.toString()]
    }

    @NonCPS
    private String unknownKey(String key) {
        List<String> known = new ArrayList<String>(params.keySet())
        known.addAll(credentials.keySet())
        String best = null
        int bestDistance = Integer.MAX_VALUE
        for (String candidate : known) {
            int d = distance(key.toLowerCase(), candidate.toLowerCase())
            if (d < bestDistance) {
                best = candidate
                bestDistance = d
            }
        }
        if (best != null && bestDistance <= Math.max(2, (int) (key.length() / 3))) {
            return "unknown parameter '${key}': did you mean '${best}'?"
        }
        Collections.sort(known)
        return "unknown parameter '${key}' (accepted: ${known.join(', ')})"
    }

    @NonCPS
    private static String typeProblem(String key, String type, Object value) {
        boolean ok
        switch (type) {
            case 'string': ok = value instanceof CharSequence; break
            case 'integer': ok = isInteger(value); break
            case 'number': ok = value instanceof Number; break
            case 'boolean': ok = value instanceof Boolean; break
            case 'list': ok = value instanceof List || value instanceof Object[]; break
            case 'map': ok = value instanceof Map; break
            default: ok = true
        }
        if (!ok) {
            return "'${key}' must be ${article(type)} ${type}, not ${article(kind(value))} ${kind(value)}"
        }
        String nested = nestedProblem(key, value)
        return nested
    }

    @NonCPS
    private static boolean isInteger(Object value) {
        return value instanceof Integer || value instanceof Long || value instanceof BigInteger ||
            value instanceof Short
    }

    /** Only JSON-shaped values may cross to the CLI (JsonOutput would dump a bean's properties). */
    @NonCPS
    private static String nestedProblem(String key, Object value) {
        if (value == null || value instanceof CharSequence || value instanceof Number || value instanceof Boolean) {
            return null
        }
        if (value instanceof Map) {
            for (Object v : ((Map) value).values()) {
                String p = nestedProblem(key, v)
                if (p) {
                    return p
                }
            }
            return null
        }
        if (value instanceof List || value instanceof Object[]) {
            for (Object v : value as List) {
                String p = nestedProblem(key, v)
                if (p) {
                    return p
                }
            }
            return null
        }
        return "'${key}' holds ${article(kind(value))} ${kind(value)}: " +
            'only strings, numbers, booleans, lists and maps can be passed'
    }

    /** GStrings become Strings, arrays lists: the values are JSON and serialisable. */
    @NonCPS
    private static Object plain(Object value) {
        if (value instanceof CharSequence) {
            return value.toString()
        }
        if (value instanceof Map) {
            Map out = [:]
            for (Object e : ((Map) value).entrySet()) {
                out[String.valueOf(((Map.Entry) e).key)] = plain(((Map.Entry) e).value)
            }
            return out
        }
        if (value instanceof List || value instanceof Object[]) {
            List out = []
            for (Object v : value as List) {
                out << plain(v)
            }
            return out
        }
        return value
    }

    @NonCPS
    private static String kind(Object value) {
        if (value instanceof CharSequence) {
            return 'string'
        }
        if (value instanceof Boolean) {
            return 'boolean'
        }
        if (value instanceof Number) {
            return 'number'
        }
        if (value instanceof Map) {
            return 'map'
        }
        if (value instanceof List || value instanceof Object[]) {
            return 'list'
        }
        return value.getClass().simpleName
    }

    @NonCPS
    private static String article(String word) {
        return ('aeiouAEIOU'.indexOf(word.substring(0, 1)) >= 0) ? 'an' : 'a'
    }

    /** Levenshtein distance, for did-you-mean. */
    @NonCPS
    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1]
        int[] cur = new int[b.length() + 1]
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost)
            }
            int[] t = prev
            prev = cur
            cur = t
        }
        return prev[b.length()]
    }

}
