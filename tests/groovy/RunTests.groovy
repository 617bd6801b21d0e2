// Runs the JUnit 4 test classes (*Test.groovy) of the given directories in one JVM and
// ends with the plain line "N passed, N failed". MLCI_GROOVY_TESTS (a regex matched
// against "Class" and "Class.method") selects tests.
import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Request
import org.junit.runner.Result
import org.junit.runner.manipulation.Filter
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener

File root = new File(args[0]).canonicalFile
System.setProperty('mlci.root', root.path)
String select = System.getenv('MLCI_GROOVY_TESTS') ?: ''

GroovyClassLoader loader = (GroovyClassLoader) this.class.classLoader
List<Class> classes = []
args.drop(1).each { String dir ->
    new File(root, dir).listFiles().findAll { it.name.endsWith('Test.groovy') }.sort { it.name }.each { File f ->
        classes << loader.parseClass(f)
    }
}

Filter filter = new Filter() {
    boolean shouldRun(Description d) {
        if (!select) {
            return true
        }
        if (d.methodName == null) {
            return d.children.any { shouldRun(it) } || d.className =~ select
        }
        return "${d.testClass.simpleName}.${d.methodName}" =~ select
    }
    String describe() { "tests matching ${select}" }
}

int passed = 0
int failed = 0
int skipped = 0
JUnitCore core = new JUnitCore()
core.addListener(new RunListener() {
    Set<String> bad = [] as Set
    void testFailure(Failure f) {
        bad << f.description.displayName
        failed++
        println "FAIL ${f.description.testClass?.simpleName}.${f.description.methodName}"
        String trace = f.trace.readLines().findAll { !(it =~ /^\s+at (org\.codehaus|sun\.|java\.|jdk\.|org\.junit|groovy\.lang\.|groovy\.ui\.|RunTests)/) }.take(25).join('\n')
        println trace.readLines().collect { '    ' + it }.join('\n')
    }
    void testAssumptionFailure(Failure f) {
        bad << f.description.displayName
        skipped++
        println "skip ${f.description.testClass?.simpleName}.${f.description.methodName}: ${f.message}"
    }
    void testFinished(Description d) {
        if (!bad.contains(d.displayName)) {
            passed++
            println "ok   ${d.testClass.simpleName}.${d.methodName}"
        }
    }
})
for (Class c : classes) {
    Request r = Request.aClass(c)
    if (select) {
        boolean any = c.methods.any { it.getAnnotation(org.junit.Test) && "${c.simpleName}.${it.name}" =~ select }
        if (!any) {
            continue
        }
        r = r.filterWith(filter)
    }
    core.run(r)
}
if (passed + failed + skipped == 0) {
    println "no test matched ${select ?: '(all)'}"
    failed = 1
}
println skipped ? "${passed} passed, ${failed} failed, ${skipped} skipped" : "${passed} passed, ${failed} failed"
System.exit(failed ? 1 : 0)
