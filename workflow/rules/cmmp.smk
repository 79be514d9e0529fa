# CMMP (cross-modal message passing): stage 2 variants, their scores, Table 1 and Table 2.
# Stage 1 is the two-stream baseline of stream.smk (models/{dataset}/split{split}/{rgb,flow}.pt).


rule cmmp_train:
    input:
        index="results/{dataset}/shards.csv",
        rgb="models/{dataset}/split{split}/rgb.pt",
        flow="models/{dataset}/split{split}/flow.pt",
    output:
        "models/{dataset}/split{split}/cmmp-{variant}.pt",
    log:
        "logs/cmmp_train/{dataset}/split{split}_{variant}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        **train_resources(),
    params:
        launcher=TRAIN,
        spec=spec(specs.CMMPSpec),
        code=code("train", "cmmp"),
    shell:
        "{params.launcher} train --kind cmmp --spec {params.spec:q} --index {input.index} --split {wildcards.split}"
        " --init {input.rgb} {input.flow} --threads {threads} --out {output} > {log} 2>&1"


use rule evaluate_stream as evaluate_cmmp with:
    input:
        index="results/{dataset}/shards.csv",
        model="models/{dataset}/split{split}/cmmp-{variant}.pt",
    output:
        "results/{dataset}/split{split}/scores/cmmp-{variant}.npz",
    log:
        "logs/evaluate_cmmp/{dataset}/split{split}_{variant}.log",
    params:
        code=code("evaluate", "cmmp"),


rule cmmp_table1:
    input:
        lambda w: expand(
            "results/{dataset}/split{split}/scores/cmmp-{variant}.npz",
            dataset=w.dataset,
            split=first_split(w.dataset),
            variant=CMMP["variants"],
        ),
    output:
        csv=report(
            "results/{dataset}/cmmp_table1.csv",
            caption="../report/cmmp_table1.rst",
            category="CMMP",
            subcategory="{dataset}",
        ),
        md="results/{dataset}/cmmp_table1.md",
    log:
        "logs/cmmp_table1/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: first_split(w.dataset),
        variants=" ".join(CMMP["variants"]),
        spec=spec(specs.CMMPTable1Spec),
        code=code("cmmp-tables"),
    shell:
        "python -m twostream cmmp-tables table1 --spec {params.spec:q} --dataset {wildcards.dataset}"
        " --split {params.split} --variants {params.variants} --scores {input} --out {output.csv} > {log} 2>&1"


rule cmmp_table2:
    input:
        rgb=[f"results/{n}/split{k}/scores/rgb.npz" for n, _, k in cmmp_runs()],
        flow=[f"results/{n}/split{k}/scores/flow.npz" for n, _, k in cmmp_runs()],
        cmmp=[f"results/{n}/split{k}/scores/cmmp-cmmp.npz" for n, _, k in cmmp_runs()],
        conv_fusion=(
            [f"results/{n}/split{k}/scores/conv_fusion.npz" for n, _, k in cmmp_runs()]
            if CONV is not None
            else []
        ),
    output:
        csv=report(
            "results/cmmp_table2.csv",
            caption="../report/cmmp_table2.rst",
            category="CMMP",
        ),
        md="results/cmmp_table2.md",
    log:
        "logs/cmmp_table2.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        runs=" ".join(f"{n}:{kind}:{k}" for n, kind, k in cmmp_runs()),
        conv_fusion=lambda w, input: (
            f"--conv-fusion {' '.join(input.conv_fusion)}" if input.conv_fusion else ""
        ),
        spec=spec(specs.CMMPTable2Spec),
        code=code("cmmp-tables"),
    shell:
        "python -m twostream cmmp-tables table2 --spec {params.spec:q} --runs {params.runs} --rgb {input.rgb}"
        " --flow {input.flow} --cmmp {input.cmmp} {params.conv_fusion} --out {output.csv} > {log} 2>&1"
