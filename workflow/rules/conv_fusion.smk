# Conv fusion (Feichtenhofer et al., 2016), the positive control, and the fusion baselines table.
# Trained from the stage-1 streams on each dataset's first split; scored by the one evaluate rule.


rule conv_fusion_train:
    input:
        index=training_index,
        rgb=lambda w: stream(w.dataset, "rgb", int(w.split)),
        flow=lambda w: stream(w.dataset, "flow", int(w.split)),
    output:
        "models/{dataset}/{data}/conv_fusion-{key}/split{split}.pt",
    log:
        "logs/conv_fusion_train/{dataset}/{data}/conv_fusion-{key}/split{split}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: job_threads(TRAIN_GPUS)
    resources:
        **train_resources(),
    params:
        threads=torch_threads(TRAIN_GPUS),
        launcher=TRAIN,
        spec=spec(specs.ConvFusionSpec),
        current=current(
            lambda w: paths.conv_fusion_model(config, w.dataset, int(w.split))
        ),
        code=code("train", "conv_fusion"),
    shell:
        ": > {log:q}; {params.launcher} train --kind conv_fusion --spec {params.spec:q} --index {input.index:q}"
        " --split {wildcards.split:q} --init {input.rgb:q} {input.flow:q} --threads {params.threads} --out {output:q} 2>> {log:q} | tee -a {log:q}"


use rule evaluate_stream as evaluate_conv_fusion with:
    input:
        index="results/{dataset}/{data}/shards.csv",
        model="models/{dataset}/{data}/conv_fusion-{key}/split{split}.pt",
    output:
        "results/{dataset}/{data}/{scores}/conv_fusion-{key}/split{split}.npz",
    log:
        "logs/evaluate_conv_fusion/{dataset}/{data}/{scores}/conv_fusion-{key}/split{split}.log",
    params:
        current=current(
            lambda w: scores(
                w.dataset, paths.conv_fusion_model(config, w.dataset, int(w.split))
            )
        ),
        code=code("evaluate", "conv_fusion"),


rule fusion_baselines:
    input:
        unpack(fusion_baselines_inputs),
    output:
        csv=report(
            "results/{run}/{dataset}/fusion_baselines.csv",
            caption="../report/fusion_baselines.rst",
            category="Fusion baselines",
            subcategory="{dataset}",
        ),
        md="results/{run}/{dataset}/fusion_baselines.md",
    log:
        "logs/fusion_baselines/{run}/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: first_split(w.dataset),
        spec=spec(specs.FusionBaselinesSpec),
        optional=fusion_baselines_args,
        code=code("fusion-baselines"),
    shell:
        "python -m twostream fusion-baselines --spec {params.spec:q} --dataset {wildcards.dataset:q}"
        " --split {params.split} --rgb {input.rgb:q} --flow {input.flow:q} --conv-fusion {input.conv_fusion:q}"
        " {params.optional} --out {output.csv:q} > {log:q} 2>&1"
