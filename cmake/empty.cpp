// Placeholder so loid_nn exists before any torch source does.
