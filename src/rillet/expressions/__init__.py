"""One expression language: parsed once, type-checked, compiled to Arrow kernels or DuckDB SQL."""
