package harness

/** The `env` global: reads see withEnv/withCredentials overrides, writes go to the build's env. */
class EnvProxy extends GroovyObjectSupport {

    final Harness harness

    EnvProxy(Harness harness) {
        this.harness = harness
    }

    @Override
    Object getProperty(String name) {
        return harness.effectiveEnv()[name]
    }

    @Override
    void setProperty(String name, Object value) {
        harness.globalEnv[name] = value == null ? null : value.toString()
    }

    Object getAt(String name) {
        return getProperty(name)
    }

    void putAt(String name, Object value) {
        setProperty(name, value)
    }
}
