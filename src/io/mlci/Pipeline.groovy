package io.mlci

import com.cloudbees.groovy.cps.NonCPS

/**
 * mlPipeline: asks `mlci plan` for the stages (the order lives in Python once) and runs
 * each as a Jenkins stage: run stages through the StepRunner, approval stages as input.
 * The first failure stops the pipeline (its error propagates).
 */
class Pipeline implements Serializable {

    private static final long serialVersionUID = 1L

    static final String STEP = 'mlPipeline'

    final Object script

    Pipeline(Object script) {
        this.script = script
    }

    Map run(Map args = [:]) {
        Map pipelineArgs = args ?: [:]
        // One runner for all stages: contracts and the CLI lookup are done once.
        StepRunner runner = new StepRunner(script)
        Map plan = runner.run(STEP, pipelineArgs)
        List stages = (List) (plan.stages ?: [])
        String problem = planProblem(stages)
        if (problem) {
            script.error("[${STEP}] mlci plan returned a bad plan: ${problem} (see docs/steps/${STEP}.md)")
        }
        Map results = [:]
        for (int i = 0; i < stages.size(); i++) {
            Map stage = (Map) stages[i]
            script.stage((String) stage.name) {
                if (stage.kind == 'approval') {
                    script.input(approval((Map) (stage.params ?: [:])))
                } else {
                    Contract contract = runner.contract((String) stage.step)
                    Map stageArgs = stageArgs(contract, pipelineArgs, (Map) (stage.params ?: [:]))
                    results[(String) stage.name] = runner.run((String) stage.step, stageArgs)
                }
            }
        }
        return [stages: stages, results: results]
    }

    /**
     * A stage's arguments: the pipeline's pass-through keys its contract accepts (common
     * keys such as failOnError or dockerImage, and its credential IDs), then the plan's
     * params on top: the plan is authoritative for what it sets.
     */
    @NonCPS
    static Map stageArgs(Contract contract, Map pipelineArgs, Map planParams) {
        Map out = [:]
        for (Object key : pipelineArgs.keySet()) {
            String name = key
            if (contract.commonParams.contains(name) || contract.credentials.containsKey(name)) {
                out[name] = pipelineArgs[key]
            }
        }
        out.putAll(planParams)
        return out
    }

    @NonCPS
    static Map approval(Map params) {
        Map out = [message: params.message ?: 'Proceed?', ok: params.ok ?: 'Proceed']
        if (params.submitter) {
            out.submitter = params.submitter
        }
        return out
    }

    @NonCPS
    static String planProblem(List stages) {
        for (Object item : stages) {
            if (!(item instanceof Map) || !((Map) item).name) {
                return 'a stage without a name'
            }
            Map stage = (Map) item
            if (stage.kind == 'run' && !(stage.step instanceof String)) {
                return "stage '${stage.name}' has no step"
            }
            if (stage.kind != 'run' && stage.kind != 'approval') {
                return "stage '${stage.name}' has unknown kind '${stage.kind}'"
            }
        }
        return null
    }

}
