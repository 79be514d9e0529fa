# The run's plan (what it computes and costs here, `twostream plan`) and summary: the plan and every final
# Markdown table in one file, with the date and machine.


rule plan:
    input:
        [paths.manifest(config, name) for name in DATASETS],
    output:
        report(
            "results/{run}/plan.md",
            caption="../report/plan.rst",
            category="Plan",
        ),
    log:
        "logs/plan/{run}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores  # the cores of the run it plans
    params:
        config=json.dumps(config, sort_keys=True),
        code=code("plan"),
    shell:
        "python -m twostream plan --config-json {params.config:q} --cores {threads} --out {output:q} > {log:q} 2>&1"


rule summary:
    input:
        [f"{RUN}/plan.md"] + summary_tables(),
    output:
        "results/{run}/summary.md",
    log:
        "logs/summary/{run}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        code=code("summary"),
    shell:
        "python -m twostream summary --tables {input:q} --out {output:q} > {log:q} 2>&1"
