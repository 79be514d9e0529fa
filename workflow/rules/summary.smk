# The run's summary: every final Markdown table in one file, with the date and machine.


rule summary:
    input:
        summary_tables(),
    output:
        "results/{run}/summary.md",
    log:
        "logs/summary/{run}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        code=code("summary"),
    shell:
        "python -m twostream summary --tables {input} --out {output} > {log} 2>&1"
