"""Reading sources into gridmap's layers, and writing them out again."""
