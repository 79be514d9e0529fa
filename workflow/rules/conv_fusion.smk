# Conv fusion (Feichtenhofer et al., 2016), the positive control, and the fusion baselines table.
# Trained from the stage-1 streams on each dataset's first split; scored by the one evaluate rule.


rule conv_fusion_train:
    input:
        index="results/{dataset}/shards.csv",
        rgb="models/{dataset}/split{split}/rgb.pt",
        flow="models/{dataset}/split{split}/flow.pt",
    output:
        "models/{dataset}/split{split}/conv_fusion.pt",
    log:
        "logs/conv_fusion_train/{dataset}/split{split}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        **train_resources(),
    params:
        launcher=TRAIN,
        spec=spec(specs.ConvFusionSpec),
        code=code("train", "conv_fusion"),
    shell:
        "{params.launcher} train --kind conv_fusion --spec {params.spec:q} --index {input.index}"
        " --split {wildcards.split} --init {input.rgb} {input.flow} --threads {threads} --out {output} > {log} 2>&1"


use rule evaluate_stream as evaluate_conv_fusion with:
    input:
        index="results/{dataset}/shards.csv",
        model="models/{dataset}/split{split}/conv_fusion.pt",
    output:
        "results/{dataset}/split{split}/scores/conv_fusion.npz",
    log:
        "logs/evaluate_conv_fusion/{dataset}/split{split}.log",
    params:
        code=code("evaluate", "conv_fusion"),


rule fusion_baselines:
    input:
        unpack(fusion_baselines_inputs),
    output:
        csv=report(
            "results/{dataset}/fusion_baselines.csv",
            caption="../report/fusion_baselines.rst",
            category="Fusion baselines",
            subcategory="{dataset}",
        ),
        md="results/{dataset}/fusion_baselines.md",
    log:
        "logs/fusion_baselines/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: first_split(w.dataset),
        spec=spec(specs.FusionBaselinesSpec),
        optional=fusion_baselines_args,
        code=code("fusion-baselines"),
    shell:
        "python -m twostream fusion-baselines --spec {params.spec:q} --dataset {wildcards.dataset}"
        " --split {params.split} --rgb {input.rgb} --flow {input.flow} --conv-fusion {input.conv_fusion}"
        " {params.optional} --out {output.csv} > {log} 2>&1"
