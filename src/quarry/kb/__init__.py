"""Knowledge bases: loaders, chunking, embedding, stores, retrieval, answers with citations.

Needs the `kb` extra (numpy, pypdfium2); `import quarry` does not import this package.
"""
