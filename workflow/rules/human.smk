# The human baseline: the person's quiz answers (the shipped table,
# mnist1d/experiments/human_quiz.csv) beside the benchmark CNN's final test predictions.
import mnist1d.experiments.human as human_lib

# None where benchmark.models has no cnn or benchmark.variants no normal: no human baseline then.
HUMAN = human_lib.protocol_from_config(config)
if HUMAN:
    ALL_TARGETS.extend(
        [
            result("human/human.csv"),
            result("human/quizzes.csv"),
            result("human/class_errors.csv"),
            result("human/human.md"),
        ]
        + figure("human")
    )

    rule human:
        input:
            quiz=str(human_lib.QUIZ_CSV),
            predictions=expand(
                result("benchmark/predictions_{model}_{variant}{chunk}.csv"),
                model=HUMAN["model"],
                variant=HUMAN["variant"],
                chunk=BENCH_CHUNKS,
            ),
        output:
            summary=result("human/human.csv"),
            quizzes=result("human/quizzes.csv"),
            classes=result("human/class_errors.csv"),
            md=result("human/human.md"),
            figure=report_figure("human", "Benchmark"),
        log:
            result("logs/human/human.log"),
        benchmark:
            result("timing/human/human.tsv")
        threads: job_threads("figures")
        resources:
            **job_resources("figures"),
        params:
            protocol=HUMAN,
        script:
            "../scripts/human.py"
