package harness

import org.codehaus.groovy.ast.ASTNode
import org.codehaus.groovy.ast.ClassNode
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.FieldNode
import org.codehaus.groovy.ast.MethodNode
import org.codehaus.groovy.ast.ModuleNode
import org.codehaus.groovy.ast.expr.ArgumentListExpression
import org.codehaus.groovy.ast.expr.ConstantExpression
import org.codehaus.groovy.ast.expr.Expression
import org.codehaus.groovy.ast.expr.MapEntryExpression
import org.codehaus.groovy.ast.expr.MapExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.ast.expr.PropertyExpression
import org.codehaus.groovy.ast.expr.TupleExpression
import org.codehaus.groovy.ast.expr.VariableExpression
import org.codehaus.groovy.ast.stmt.Statement
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.control.SourceUnit

/** Source checks over vars/ and src/ on the Groovy AST (what a reviewer would otherwise police). */
class Conventions {

    static ModuleNode parse(String name, String text) {
        CompilationUnit cu = new CompilationUnit(new CompilerConfiguration(), null, new GroovyClassLoader())
        SourceUnit su = cu.addSource(name, text)
        cu.compile(Phases.CONVERSION)
        return su.AST
    }

    /** Visits every statement and expression of a module: script body, methods, fields. */
    static void visit(ModuleNode module, CodeVisitorSupport visitor) {
        // A script's methods show up both in the module and in its class: visit each once.
        Set<ASTNode> seen = Collections.newSetFromMap(new IdentityHashMap<ASTNode, Boolean>())
        List<ASTNode> nodes = [module.statementBlock]
        nodes.addAll(module.methods*.code)
        for (ClassNode c : module.classes) {
            nodes.addAll((c.methods + c.declaredConstructors)*.code)
            nodes.addAll(c.fields*.initialExpression)
        }
        for (ASTNode n : nodes) {
            if (n != null && seen.add(n)) {
                n.visit(visitor)
            }
        }
    }

    static String sourceAt(String text, ASTNode node) {
        List<String> lines = text.readLines()
        if (node.lineNumber < 1 || node.lineNumber > lines.size()) {
            return ''
        }
        return lines[node.lineNumber - 1].substring(Math.max(0, node.columnNumber - 1))
    }

    /** Constant single-quoted strings declared as `static final String` fields, by name. */
    static Map<String, Boolean> constantScripts(Map<String, String> sources) {
        Map<String, Boolean> out = [:]
        sources.each { String name, String text ->
            for (ClassNode c : parse(name, text).classes) {
                for (FieldNode f : c.fields) {
                    if (f.static && f.final && f.initialExpression instanceof ConstantExpression) {
                        out[f.name] = sourceAt(text, f.initialExpression).startsWith("'")
                    }
                }
            }
        }
        return out
    }

    /**
     * Every `sh` call whose script is not a constant single-quoted string (inline, or a
     * static final field holding one): a GString, a double-quoted string, a concatenation...
     */
    static List<String> interpolatedSh(String name, String text, Map<String, Boolean> constants) {
        List<String> bad = []
        visit(parse(name, text), new CodeVisitorSupport() {
            @Override
            void visitMethodCallExpression(MethodCallExpression call) {
                if (call.methodAsString == 'sh') {
                    Expression script = scriptArgument(call.arguments)
                    boolean ok
                    if (script instanceof ConstantExpression) {
                        ok = sourceAt(text, script).startsWith("'")
                    } else if (script instanceof VariableExpression) {
                        ok = constants[((VariableExpression) script).name] == true
                    } else if (script instanceof PropertyExpression) {
                        ok = constants[((PropertyExpression) script).propertyAsString] == true
                    } else {
                        ok = false
                    }
                    if (!ok) {
                        bad << "${name}:${call.lineNumber}: sh script is not a constant single-quoted string: ${script?.text}".toString()
                    }
                }
                super.visitMethodCallExpression(call)
            }
        })
        return bad
    }

    private static Expression scriptArgument(Expression args) {
        List<Expression> list = args instanceof TupleExpression ? ((TupleExpression) args).expressions : [args]
        for (Expression e : list) {
            if (e instanceof MapExpression) {
                MapEntryExpression entry = ((MapExpression) e).mapEntryExpressions.find { it.keyExpression.text == 'script' }
                return entry?.valueExpression
            }
        }
        return list ? list[0] : null
    }

    /** Calls or references to vars (by name) from src: src must not depend on vars. */
    static List<String> varReferences(String name, String text, Set<String> vars) {
        List<String> bad = []
        visit(parse(name, text), new CodeVisitorSupport() {
            @Override
            void visitMethodCallExpression(MethodCallExpression call) {
                if (vars.contains(call.methodAsString)) {
                    bad << "${name}:${call.lineNumber}: calls var ${call.methodAsString}".toString()
                }
                super.visitMethodCallExpression(call)
            }

            @Override
            void visitVariableExpression(VariableExpression v) {
                if (vars.contains(v.name)) {
                    bad << "${name}:${v.lineNumber}: refers to var ${v.name}".toString()
                }
            }

            @Override
            void visitPropertyExpression(PropertyExpression p) {
                if (vars.contains(p.propertyAsString)) {
                    bad << "${name}:${p.lineNumber}: refers to var ${p.propertyAsString}".toString()
                }
                super.visitPropertyExpression(p)
            }
        })
        return bad
    }

    /** @NonCPS methods that touch `script` (i.e. may call pipeline steps). */
    static List<String> stepsInNonCps(String name, String text) {
        List<String> bad = []
        for (ClassNode c : parse(name, text).classes) {
            for (MethodNode m : c.methods) {
                if (!m.annotations.any { it.classNode.nameWithoutPackage == 'NonCPS' }) {
                    continue
                }
                m.code?.visit(new CodeVisitorSupport() {
                    @Override
                    void visitVariableExpression(VariableExpression v) {
                        if (v.name == 'script') {
                            bad << "${name}:${v.lineNumber}: @NonCPS ${m.name} uses script (pipeline steps)".toString()
                        }
                    }
                })
            }
        }
        return bad
    }

    /** The var's methods: must be exactly `def call(Map args = [:])`. */
    static List<String> varShape(String name, String text) {
        ModuleNode module = parse(name, text)
        List<String> bad = []
        List<MethodNode> methods = module.methods
        if (methods.size() != 1 || methods[0].name != 'call') {
            bad << "${name}: must define exactly one method, call (has: ${methods*.name})".toString()
            return bad
        }
        MethodNode call = methods[0]
        def p = call.parameters
        boolean ok = p.length == 1 && p[0].type.nameWithoutPackage == 'Map' && p[0].name == 'args' &&
            p[0].initialExpression instanceof MapExpression &&
            ((MapExpression) p[0].initialExpression).mapEntryExpressions.isEmpty()
        if (!ok) {
            bad << "${name}: call must be declared as call(Map args = [:])".toString()
        }
        if (module.classes.size() > 1) {
            bad << "${name}: declares classes: put them in src/io/mlci".toString()
        }
        Statement body = module.statementBlock
        if (body != null && !body.isEmpty()) {
            bad << "${name}: has top-level statements outside call".toString()
        }
        return bad
    }
}
