# Data: synthetic generation, ingest, flow + pack in chunks, shard index.


rule synthetic:
    output:
        directory("data/{dataset}"),
    log:
        "logs/synthetic/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        colours=lambda w: ds(w)["synthetic"]["colours"],
        directions=lambda w: ds(w)["synthetic"]["directions"],
        groups=lambda w: ds(w)["synthetic"]["groups"],
        clips=lambda w: ds(w)["synthetic"]["clips_per_group"],
        val_clips=lambda w: ds(w)["synthetic"]["val_clips"],
        frames=lambda w: ds(w)["synthetic"]["frames"],
        size=lambda w: " ".join(map(str, ds(w)["synthetic"]["size"])),
        seed=lambda w: ds(w)["synthetic"]["seed"],
        code=code("synthetic"),
    shell:
        "python -m twostream synthetic --out {output} --colours {params.colours}"
        " --directions {params.directions} --groups {params.groups} --clips-per-group {params.clips}"
        " --val-clips {params.val_clips}"
        " --frames {params.frames} --size {params.size} --seed {params.seed} > {log} 2>&1"


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
        code=code("ingest"),
    shell:
        "python -m twostream ingest {params.source} --workers {threads}"
        " --out {output.manifest} --failures {output.failures} > {log} 2>&1"


rule extract:
    input:
        manifest="results/{dataset}/manifest.csv",
    output:
        "results/{dataset}/chunks/{chunk}.csv",
    log:
        "logs/extract/{dataset}/{chunk}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: 1
    resources:
        gpu=1 if GPUS else 0,
    params:
        chunk=lambda w: int(w.chunk),
        chunk_size=config["flow"]["chunk_size"],
        size=lambda w: " ".join(map(str, ds(w)["size"])),
        backend=config["flow"]["backend"],
        device=config["flow"].get("device", "auto"),
        variant=config["flow"]["variant"],
        batch_pairs=config["flow"]["batch_pairs"],
        bound=config["flow"]["bound"],
        quality=config["flow"].get("jpeg_quality", 90),
        length=config["train"].get("length", 5),
        code=code("extract"),
    shell:
        "python -m twostream extract --manifest {input.manifest} --chunk {params.chunk}"
        " --chunk-size {params.chunk_size} --shards shards/{wildcards.dataset} --size {params.size}"
        " --backend {params.backend} --device {params.device} --variant {params.variant}"
        " --batch-pairs {params.batch_pairs} --bound {params.bound}"
        " --quality {params.quality} --length {params.length} --threads {threads} --out {output} > {log} 2>&1"


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
        "python -m twostream index --manifest {input.manifest} --ingest-failures {input.failures}"
        " --chunks {input.chunks} --out {output.index} --failures {output.failures} > {log} 2>&1"
