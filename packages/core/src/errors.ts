/** Base class of every error attnkit throws on bad input. */
export class AttnkitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor has the wrong rank, size or dtype, or two tensors do not fit together. */
export class ShapeError extends AttnkitError {}

/** An option (or a plain argument) has a value outside what the function accepts. */
export class OptionError extends AttnkitError {}
