"""Encrypted files in the repository: SOPS documents and age files, decrypted only in memory.

`decrypt.py` is the one place that recognises an encrypted file, finds the age keys and turns
ciphertext into bytes in memory (docs/secrets.md). `tools.py` runs `sops` for
`stackctl secrets encrypt` and `check`. Nothing here is imported until a file needs it.
"""
