package dev.droptrace.libbpf;
