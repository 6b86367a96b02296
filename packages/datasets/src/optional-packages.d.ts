// The `mnist` package ships no types; only `raw` of each digit is used.
declare module "mnist" {
  interface MnistDigit {
    id: number;
    length: number;
    raw: number[];
  }
  const digits: MnistDigit[];
  export default digits;
}
