# The run's summary: every final Markdown table in one file, with the date and machine.


rule summary:
    input:
        summary_tables(),
    output:
        "results/summary.md",
    log:
        "logs/summary.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        code=code("summary"),
    shell:
        "python -m twostream summary --tables {input:q} --out {output:q} > {log:q} 2>&1"
