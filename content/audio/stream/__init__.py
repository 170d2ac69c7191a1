"""The mastering chain in bounded memory: audio moves in fixed-size chunks between ffmpeg pipes and raw
float32 work files on the store's filesystem, and every measurement keeps only small per-block arrays.

    spill      raw float32 work files, read and written chunk by chunk
    pipes      ffmpeg processes fed and read chunk by chunk
    running    loudness meters fed chunk by chunk (K-weighted 100 ms bin sums)
    source     decode an upload (with ingest's checks) or a Pcm to the working rate, mono, into a work file
    passes     trim, high-pass and leveling as passes from one work file to the next
    normalize  gain + true-peak limiter to a target loudness, from per-cell sums kept in work files
    encode     encode while decoding the encoding; the codec correction between attempts
"""
