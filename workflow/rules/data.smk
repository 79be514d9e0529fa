# Data: synthetic generation, ingest, flow + pack in chunks, shard index.


rule synthetic:
    output:
        directory("data/{dataset}"),
    log:
        "logs/synthetic/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        spec=spec(specs.SyntheticSpec),
        code=code("synthetic"),
    shell:
        "python -m twostream synthetic --spec {params.spec:q} --out {output:q} > {log:q} 2>&1"


checkpoint ingest:
    input:
        ingest_inputs,
    output:
        manifest="results/{dataset}/manifest.csv",
        failures="results/{dataset}/ingest_failures.csv",
    log:
        "logs/ingest/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    params:
        source=ingest_args,
        spec=spec(specs.IngestSpec),
        code=code("ingest"),
    shell:
        "python -m twostream ingest --spec {params.spec:q} {params.source} --workers {threads}"
        " --out {output.manifest:q} --failures {output.failures:q} 2> {log:q} | tee -a {log:q}"


rule extract:
    input:
        manifest="results/{dataset}/manifest.csv",
    output:
        "results/{dataset}/chunks/{chunk}.csv",
    log:
        "logs/extract/{dataset}/{chunk}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: max(1, workflow.cores // GPUS) if GPUS else 1
    resources:
        gpu=1 if GPUS else 0,
    params:
        chunk=lambda w: int(w.chunk),
        spec=spec(specs.ExtractSpec),
        code=code("extract"),
    shell:
        "python -m twostream extract --spec {params.spec:q} --manifest {input.manifest:q} --chunk {params.chunk}"
        " --shards shards/{wildcards.dataset:q} --threads {threads} --out {output:q} > {log:q} 2>&1"


rule index:
    input:
        manifest="results/{dataset}/manifest.csv",
        failures="results/{dataset}/ingest_failures.csv",
        chunks=chunk_indexes,
    output:
        index="results/{dataset}/shards.csv",
        failures="results/{dataset}/failures.csv",
    log:
        "logs/index/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        code=code("index"),
    shell:
        "python -m twostream index --dataset {wildcards.dataset:q} --manifest {input.manifest:q}"
        " --ingest-failures {input.failures:q} --chunks {input.chunks:q} --out {output.index:q}"
        " --failures {output.failures:q} 2> {log:q} | tee -a {log:q}"
