package harness

/** CPS persists the program at every step: values crossing steps must serialise. */
class Serial {

    static void check(Object value, String what) {
        try {
            ObjectOutputStream out = new ObjectOutputStream(new ByteArrayOutputStream())
            out.writeObject(value)
            out.close()
        } catch (NotSerializableException e) {
            throw new AssertionError((Object) "${what} is not serialisable (CPS would fail): ${e.message}".toString())
        }
    }
}
