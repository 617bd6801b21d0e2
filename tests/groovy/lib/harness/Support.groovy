package harness

import groovy.json.JsonSlurperClassic

/** Helpers shared by the tests. */
class Support {

    /** A mock-mode harness with mlci 0.1.0 on PATH and a CLI answering `exit`. */
    static Harness harness(Map options = [:], int exit = 0, Map resultExtra = [:]) {
        Harness h = new Harness(options)
        h.cliOnPath()
        h.cli { String command, Map params, Map call ->
            [exit: exit, result: Harness.result(stepOf(command), command, exit, resultExtra)]
        }
        return h
    }

    static String stepOf(String command) {
        return [test: 'mlTest', plan: 'mlPipeline', fixture: 'mlFixture'][command] ?: command
    }

    /** Runs the closure, which must fail with a PipelineError; returns its message. */
    static String failure(Closure c) {
        try {
            c.call()
        } catch (PipelineError e) {
            return e.message
        }
        throw new AssertionError((Object) 'expected the step to fail (error), it did not')
    }

    /** The params JSON files the runner wrote, parsed. */
    static List<Map> paramsFiles(Harness h) {
        return h.writes.findAll { it.file.endsWith('.params.json') }.collect {
            (Map) new JsonSlurperClassic().parseText((String) it.text)
        }
    }
}
